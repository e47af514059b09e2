"""API-endpoint flows: `POST /api/v1/hooks/{slug}/` (the view is `apps.flows.hooks_api`).

An "api" trigger in a flow's definition gives it an endpoint:

    {"type": "api", "slug": "hello", "synchronous": true, "timeout_seconds": 10,
     "rate_limit_per_minute": 600}

Saving the version keeps the flow's `ApiEndpoint` row (slug, client token hash) in step. What the
hot path needs of a version (its definition, its trigger, whether it may run in the web process)
is cached in this process by version id: versions never change once written.

The rate limit is a fixed window of one minute counted in Django's cache. With the default
local-memory cache each web process counts for itself; with several processes, configure a
shared cache (Redis) for the limit to be global.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection

from apps.flows import registry
from apps.flows.errors import CardError
from apps.flows.models import ApiEndpoint, Flow, FlowKind, FlowVersion

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
API_TRIGGER_KEYS = frozenset(
    {"type", "slug", "synchronous", "timeout_seconds", "rate_limit_per_minute"}
)
DEFAULT_TIMEOUT_SECONDS = 10
MAX_TIMEOUT_SECONDS = 60
MAX_RATE_PER_MINUTE = 1_000_000

# Cards that leave the process or wait (an outside call, an e-mail, a helper flow, a sleep): a
# synchronous flow holding one runs on the queue, and the endpoint waits for its result.
QUEUED_CARDS = frozenset(
    {"http.request", "email.send", "control.call_flow", "control.call_flow_async", "control.wait"}
)
_NESTED_BLOCKS = ("else", "do", "try", "catch")


# --- The trigger ----------------------------------------------------------------------------


def validate_api_trigger(trigger: dict[str, Any]) -> list[str]:
    """Every problem of an "api" trigger (called by `triggers.validate_trigger`)."""
    errors = [
        f"Trigger: unknown key '{key}' for an api trigger."
        for key in sorted(set(trigger) - API_TRIGGER_KEYS)
    ]
    slug = trigger.get("slug")
    if not isinstance(slug, str) or not SLUG.match(slug):
        errors.append(
            "Trigger: 'slug' must be lower-case letters, digits, - and _ (at most 100), "
            "starting with a letter or digit."
        )
    if not isinstance(trigger.get("synchronous", False), bool):
        errors.append("Trigger: 'synchronous' must be true or false.")
    timeout = trigger.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout <= MAX_TIMEOUT_SECONDS
    ):
        errors.append(
            f"Trigger: 'timeout_seconds' must be a number above 0, at most {MAX_TIMEOUT_SECONDS}."
        )
    rate = trigger.get("rate_limit_per_minute")
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= MAX_RATE_PER_MINUTE
    ):
        errors.append(
            f"Trigger: 'rate_limit_per_minute' must be a whole number from 1 to "
            f"{MAX_RATE_PER_MINUTE}, or null for no limit."
        )
    return errors


def api_trigger(definition: Any) -> dict[str, Any] | None:
    """The definition's "api" trigger, or None."""
    trigger = definition.get("trigger") if isinstance(definition, dict) else None
    if isinstance(trigger, dict) and trigger.get("type") == "api":
        return trigger
    return None


def sync_endpoint(*, flow: Flow, definition: Any) -> None:
    """Keep the flow's endpoint in step with the version being saved (in its transaction)."""
    trigger = api_trigger(definition)
    if trigger is None:
        ApiEndpoint.objects.filter(flow=flow).delete()
        return
    slug = trigger["slug"]
    taken = ApiEndpoint.objects.filter(slug=slug).exclude(flow=flow).select_related("flow").first()
    if taken is not None:
        raise ValidationError(
            {"trigger": f"The endpoint slug '{slug}' is already used by the flow {taken.flow}."}
        )
    ApiEndpoint.objects.update_or_create(flow=flow, defaults={"slug": slug})


# --- What the hot path reads ---------------------------------------------------------------

_ENDPOINT_FIELDS = (
    "pk",
    "token_hash",
    "flow_id",
    "flow__enabled",
    "flow__current_version_id",
    "flow__save_history",
)


_SLUG_MARK = "\x00slug"


@functools.cache
def _endpoint_sql() -> tuple[str, tuple[Any, ...]]:
    """The ORM's own statement for an endpoint's row, compiled once (building the query costs
    more than running it), with None where the slug goes among its parameters."""
    query = ApiEndpoint.objects.filter(slug=_SLUG_MARK, flow__kind=FlowKind.API)
    sql, params = query.values(*_ENDPOINT_FIELDS)[:1].query.sql_with_params()
    return sql, tuple(None if param == _SLUG_MARK else param for param in params)


def endpoint_row(slug: str) -> dict[str, Any] | None:
    """The endpoint at `slug` with what the call needs of its flow (one statement), or None."""
    sql, template = _endpoint_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [slug if param is None else param for param in template])
        row = cursor.fetchone()
    return dict(zip(_ENDPOINT_FIELDS, row, strict=True)) if row is not None else None


# --- What the hot path knows of a version ---------------------------------------------------


@dataclass(frozen=True)
class HookVersion:
    """A version as the endpoint serves it."""

    version: FlowVersion
    synchronous: bool
    timeout_seconds: float
    rate_limit_per_minute: int | None
    # Every card runs in this process (no outside call, e-mail, helper flow or wait)...
    in_process: bool
    # ...and every one is idempotent (reads and pure cards): the run and its history can be
    # written once, at the end, in one transaction.
    pure: bool


_CACHE_SIZE = 256
_versions: OrderedDict[int, HookVersion] = OrderedDict()
_versions_lock = threading.Lock()


def hook_version(version_id: int) -> HookVersion:
    """The version `version_id` as the endpoint serves it, from this process's cache."""
    with _versions_lock:
        cached = _versions.get(version_id)
        if cached is not None:
            _versions.move_to_end(version_id)
            return cached
    version = FlowVersion.objects.get(pk=version_id)
    trigger = api_trigger(version.definition) or {}
    in_process, pure = _classify(version.definition.get("cards", []))
    cached = HookVersion(
        version=version,
        synchronous=bool(trigger.get("synchronous", False)),
        timeout_seconds=float(trigger.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)),
        rate_limit_per_minute=trigger.get("rate_limit_per_minute"),
        in_process=in_process,
        pure=in_process and pure,
    )
    with _versions_lock:
        _versions[version_id] = cached
        while len(_versions) > _CACHE_SIZE:
            _versions.popitem(last=False)
    return cached


def clear_version_cache() -> None:
    """Forget every cached version (tests, whose rolled-back ids are given out again)."""
    with _versions_lock:
        _versions.clear()


def _classify(cards: Any) -> tuple[bool, bool]:
    """(every card runs in-process, every card is idempotent) for a chain and its blocks."""
    in_process = pure = True
    for spec in cards if isinstance(cards, list) else []:
        if not isinstance(spec, dict):
            continue
        key = spec.get("card", "")
        calls_helper = key == "control.for_each" and spec.get("inputs", {}).get("flow")
        if key in QUEUED_CARDS or calls_helper:
            return False, False
        try:
            card_type = registry.get(key)
        except CardError:
            return False, False
        if not card_type.blocks and card_type.idempotent is not True:
            pure = False
        blocks = [branch.get("cards", []) for branch in spec.get("branches", []) or []]
        blocks += [spec.get(name, []) for name in _NESTED_BLOCKS]
        for block in blocks:
            inner_in_process, inner_pure = _classify(block)
            if not inner_in_process:
                return False, False
            pure = pure and inner_pure
    return in_process, pure


# --- The rate limit -------------------------------------------------------------------------


def over_rate_limit(endpoint_id: int, per_minute: int | None) -> int | None:
    """Count one call in the current minute; the seconds to wait when it is one too many."""
    if per_minute is None:
        return None
    now = time.time()
    window = int(now // 60)
    key = f"flows:hook-rate:{endpoint_id}:{window}"
    try:
        count = cache.incr(key)
    except ValueError:  # the window's first call (or its counter was evicted)
        count = 1 if cache.add(key, 1, timeout=120) else cache.incr(key)
    if count <= per_minute:
        return None
    return max(1, math.ceil((window + 1) * 60 - now))
