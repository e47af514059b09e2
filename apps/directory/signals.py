"""Sign-in, sign-out, failed and locked-out sign-ins land in the system log like every change."""

from axes.helpers import get_failure_limit
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from apps.audit.models import Outcome
from apps.audit.services import emit
from apps.directory import events
from apps.directory.throttling import cool_off_seconds


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


@receiver(user_locked_out, dispatch_uid="directory.session_locked_out")
def record_locked_out_sign_in(sender, request, username, ip_address, **kwargs):
    """django-axes refused (or just locked) a sign-in: too many failures."""
    credentials = getattr(request, "axes_credentials", None)
    emit(
        events.USER_SESSION_LOCKED_OUT,
        target=("directory.user", "", username or ""),
        data={
            "username": username or "",
            "client_ip": ip_address or "",
            "failures": getattr(request, "axes_failures_since_start", None),
            "failure_limit": get_failure_limit(request, credentials),
            "cool_off_seconds": cool_off_seconds(request),
        },
        outcome=Outcome.DENIED,
        message="Too many failed sign-ins: locked out for a while.",
    )
