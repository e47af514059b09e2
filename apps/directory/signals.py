"""Sign-in, sign-out and failed sign-in land in the system log like every other change."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from apps.audit.models import Outcome
from apps.audit.services import emit
from apps.directory import events


def _client_facts(request) -> dict:
    if request is None:
        return {}
    facts = {"client_ip": request.META.get("REMOTE_ADDR", "")}
    # A proxy or CDN in front of the portal may tell the country (Cloudflare-style header).
    country = request.headers.get("CF-IPCountry") or request.headers.get("X-Country-Code")
    if country:
        facts["country"] = country.upper()[:2]
    return facts


@receiver(user_logged_in, dispatch_uid="directory.session_started")
def record_sign_in(sender, request, user, **kwargs):
    emit(events.USER_SESSION_STARTED, actor=user, target=user, data=_client_facts(request))


@receiver(user_logged_out, dispatch_uid="directory.session_ended")
def record_sign_out(sender, request, user, **kwargs):
    if user is not None:
        emit(events.USER_SESSION_ENDED, actor=user, target=user, data=_client_facts(request))


@receiver(user_login_failed, dispatch_uid="directory.session_failed")
def record_failed_sign_in(sender, credentials, request=None, **kwargs):
    tried = str(credentials.get("username", ""))[:150]
    emit(
        events.USER_SESSION_FAILED,
        target=("directory.user", "", tried),
        data={"username": tried, **_client_facts(request)},
        outcome=Outcome.FAILURE,
    )
