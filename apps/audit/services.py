"""Writing to the system log."""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django_q.tasks import async_task

from apps.audit import catalogue, events
from apps.audit.changes import changed_fields, old_and_new
from apps.audit.context import client_ip_var, current_correlation_id
from apps.audit.errors import UnknownEventType
from apps.audit.models import (
    IngestedEvent,
    IngestKind,
    IngestSource,
    Outcome,
    SystemLogEvent,
    target_type_of,
)
from apps.audit.subscribers import subscriber_paths, subscribers_for
from apps.core.hashing import hash_secret

Target = models.Model | tuple[str, str, str] | None


def emit(
    event_type: str | catalogue.EventType,
    *,
    actor: models.Model | None = None,
    target: Target = None,
    data: dict[str, Any] | None = None,
    outcome: str = Outcome.SUCCESS,
    message: str = "",
) -> SystemLogEvent:
    """Write one event in the caller's transaction; subscribers hear of it after commit.

    `target` is a model instance or a `(type, id, display)` triple for things that are not rows.
    """
    registered = catalogue.get(str(event_type))
    if isinstance(target, models.Model):
        target_type, target_id, target_display = target_type_of(target), str(target.pk), str(target)
    elif target is not None:
        target_type, target_id, target_display = target
    else:
        target_type = target_id = target_display = ""

    event = SystemLogEvent.objects.create(
        event_type=registered.name,
        actor=actor if actor is not None and actor.pk else None,
        actor_display=_display_actor(actor),
        target_type=target_type,
        target_id=str(target_id),
        target_display=str(target_display)[:255],
        outcome=outcome,
        message=message[:500],
        data=data or {},
        correlation_id=current_correlation_id(),
        client_ip=client_ip_var.get(),
    )
    if subscriber_paths():
        transaction.on_commit(lambda: _deliver_if_wanted(event.pk, registered.name))
    return event


def _deliver_if_wanted(event_id: int, event_type: str) -> None:
    """After commit: queue the delivery only when some subscriber wants this type."""
    if subscribers_for(event_type):
        async_task("apps.audit.tasks.deliver_event", event_id, task_name=f"event {event_type}")


def _display_actor(actor: models.Model | None) -> str:
    if actor is None:
        return "system"
    email = getattr(actor, "email", "")
    return (email or str(actor))[:255]


# --- Events from other systems --------------------------------------------------------------
# An ingest source (an Okta org's event hook, another system posting JSON) delivers batches of
# events; each one that is well formed is written as a system log event of a declared family
# (okta.<eventType>, ingest.<prefix>.<type>), and each bad one is reported without stopping
# the others.

INGEST_SOURCE_FIELDS = ("name", "slug", "kind", "event_prefix", "auth_header", "enabled")
MAX_EVENTS_PER_DELIVERY = 500
MAX_EVENT_BYTES = 64 * 1024
_OUTCOMES = {"FAILURE": Outcome.FAILURE, "DENY": Outcome.DENIED, "DENIED": Outcome.DENIED}


def _check_source(source: IngestSource) -> None:
    source.full_clean(exclude=["secret_hash"])


def _source_values(source: IngestSource) -> dict[str, Any]:
    return {field: getattr(source, field) for field in INGEST_SOURCE_FIELDS}


def _new_secret(source: IngestSource) -> str:
    secret = secrets.token_urlsafe(32)
    source.secret_hash = hash_secret(secret)
    source.secret_prefix = secret[:6]
    source.secret_rotated_at = timezone.now()
    return secret


@transaction.atomic
def ingest_source_create(*, actor, **fields) -> tuple[IngestSource, str]:
    """Add a source with a new shared secret; returns it with the secret (shown once)."""
    unknown = set(fields) - set(INGEST_SOURCE_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown field." for name in sorted(unknown)})
    source = IngestSource(**fields)
    secret = _new_secret(source)
    _check_source(source)
    source.save()
    emit(
        events.INGEST_SOURCE_CREATED,
        actor=actor,
        target=source,
        data={"old": None, "new": _source_values(source)},
    )
    return source, secret


@transaction.atomic
def ingest_source_update(*, source: IngestSource, actor, **changes) -> IngestSource:
    """Change a source's name, slug, kind, prefix, header or switch (the secret stays)."""
    unknown = set(changes) - set(INGEST_SOURCE_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown field." for name in sorted(unknown)})
    source = IngestSource.objects.select_for_update().get(pk=source.pk)
    old = _source_values(source)
    for field, value in changes.items():
        setattr(source, field, value)
    _check_source(source)
    new = _source_values(source)
    changed = changed_fields(old, new)
    if not changed:
        return source
    source.save()
    emit(
        events.INGEST_SOURCE_UPDATED,
        actor=actor,
        target=source,
        data=old_and_new(old, new, changed),
    )
    return source


@transaction.atomic
def ingest_source_rotate_secret(*, source: IngestSource, actor) -> str:
    """Give the source a new shared secret and return it (shown once); the old one stops."""
    source = IngestSource.objects.select_for_update().get(pk=source.pk)
    old_prefix = source.secret_prefix or None
    secret = _new_secret(source)
    source.save(update_fields=["secret_hash", "secret_prefix", "secret_rotated_at"])
    emit(
        events.INGEST_SECRET_ROTATED,
        actor=actor,
        target=source,
        data={"old": {"secret_prefix": old_prefix}, "new": {"secret_prefix": source.secret_prefix}},
    )
    return secret


def ingest_source_authenticated(*, slug: str, headers: Mapping[str, str]) -> IngestSource | None:
    """The source called `slug` if `headers` carry its shared secret in its header, else
    None (an unknown source and a wrong secret look the same to the caller)."""
    source = IngestSource.objects.filter(slug=slug).first()
    if source is None or not source.secret_hash:
        return None
    secret = headers.get(source.auth_header, "")
    if not secret or not hmac.compare_digest(hash_secret(secret), source.secret_hash):
        return None
    return source


@dataclass
class _Incoming:
    index: int
    event_type: str = ""
    external_id: str = ""
    error: str = ""
    actor_login: str = ""
    target: Target = None
    outcome: str = Outcome.SUCCESS
    message: str = ""
    event: dict[str, Any] | None = None


@transaction.atomic
def ingest_events(*, source: IngestSource, events_in: list[Any]) -> list[dict[str, Any]]:
    """Write each well-formed event of a delivery as a system log event; report each one:
    `{"index": 0, "status": "recorded", "event_type": ..., "id": <uuid>}`,
    `{"index": 1, "status": "refused", "error": ...}`, or `"duplicate"` (with the id of the
    event first recorded) for an event whose id this source already delivered. The good ones
    are written together."""
    incoming = [_read_event(source, index, raw) for index, raw in enumerate(events_in)]
    ids = {item.external_id for item in incoming if item.external_id and not item.error}
    seen = dict(
        IngestedEvent.objects.filter(source=source, external_id__in=ids).values_list(
            "external_id", "event_uuid"
        )
    )
    logins = {item.actor_login.lower() for item in incoming if item.actor_login and not item.error}
    people = _people_by_login(logins)
    results: list[dict[str, Any]] = []
    delivered: list[IngestedEvent] = []
    for item in incoming:
        if item.error:
            results.append({"index": item.index, "status": "refused", "error": item.error})
            continue
        if item.external_id in seen:
            results.append(
                {
                    "index": item.index,
                    "status": "duplicate",
                    "event_type": item.event_type,
                    "id": str(seen[item.external_id]),
                }
            )
            continue
        event = emit(
            item.event_type,
            actor=people.get(item.actor_login.lower()),
            target=item.target,
            outcome=item.outcome,
            message=item.message,
            data={"source": source.slug, "event": item.event},
        )
        if item.external_id:
            seen[item.external_id] = event.uuid  # the same id twice in one delivery: once
            delivered.append(
                IngestedEvent(source=source, external_id=item.external_id, event_uuid=event.uuid)
            )
        results.append(
            {
                "index": item.index,
                "status": "recorded",
                "event_type": item.event_type,
                "id": str(event.uuid),
            }
        )
    # A delivery racing its own retry may both pass the check above; the constraint keeps one
    # row, and the race's second copy of the events stays (rare, and never a failed delivery).
    IngestedEvent.objects.bulk_create(delivered, ignore_conflicts=True)
    return results


def _read_event(source: IngestSource, index: int, raw: Any) -> _Incoming:
    item = _Incoming(index=index)
    if not isinstance(raw, dict):
        item.error = "An event must be a JSON object."
        return item
    size = len(json.dumps(raw, cls=DjangoJSONEncoder))
    if size > MAX_EVENT_BYTES:
        item.error = f"The event is {size} bytes, over the {MAX_EVENT_BYTES} limit."
        return item
    type_key = "eventType" if source.kind == IngestKind.OKTA else "type"
    given_type = raw.get(type_key)
    if not isinstance(given_type, str) or not given_type:
        item.error = f"The event has no '{type_key}'."
        return item
    name = source.type_prefix + given_type
    try:
        catalogue.get(name)
    except UnknownEventType:
        item.error = (
            f"'{given_type}' is not a dotted event type (letters, digits, _ and -, "
            f"at most {catalogue.MAX_NAME_LENGTH} characters with the prefix {source.type_prefix})."
        )
        return item
    item.event_type, item.event = name, raw
    external_id = raw.get("uuid") if source.kind == IngestKind.OKTA else raw.get("id")
    if isinstance(external_id, (str, int)) and not isinstance(external_id, bool):
        item.external_id = str(external_id)[:100]
    if source.kind == IngestKind.OKTA:
        actor = raw.get("actor") if isinstance(raw.get("actor"), dict) else {}
        item.actor_login = str(actor.get("alternateId") or "")
        targets = raw.get("target") if isinstance(raw.get("target"), list) else []
        first = targets[0] if targets and isinstance(targets[0], dict) else None
        if first is not None:
            item.target = (
                f"okta.{first.get('type') or 'object'}"[:100],
                str(first.get("id") or "")[:64],
                str(first.get("alternateId") or first.get("displayName") or ""),
            )
        outcome = raw.get("outcome") if isinstance(raw.get("outcome"), dict) else {}
        item.outcome = _OUTCOMES.get(str(outcome.get("result") or "").upper(), Outcome.SUCCESS)
        item.message = str(raw.get("displayMessage") or "")
    else:
        item.actor_login = str(raw.get("actor") or "")
        target = raw.get("target") if isinstance(raw.get("target"), dict) else None
        if target is not None:
            item.target = (
                str(target.get("type") or "external")[:100],
                str(target.get("id") or "")[:64],
                str(target.get("display") or target.get("id") or ""),
            )
        item.message = str(raw.get("message") or "")
    return item


def _people_by_login(logins: set[str]) -> dict[str, models.Model]:
    """The people whose e-mail or username (whatever the case) is one of `logins`."""
    if not logins:
        return {}
    people = get_user_model().objects.annotate(
        login_email=Lower("email"), login_name=Lower("username")
    )
    found: dict[str, models.Model] = {}
    for person in people.filter(Q(login_email__in=logins) | Q(login_name__in=logins)):
        found.setdefault(person.login_email, person)
        found.setdefault(person.login_name, person)
    return found
