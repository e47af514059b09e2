"""Domain verbs of the flow engine: saving versions, starting, running and ending runs."""

from __future__ import annotations

import copy
import functools
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django_q.exceptions import TimeoutException as QueueTaskTimeout
from django_q.tasks import async_task

from apps.audit.changes import changed_fields, old_and_new
from apps.audit.context import correlation, current_correlation_id
from apps.audit.services import emit
from apps.core.hashing import hash_secret
from apps.flows import encryption, events, hooks, scheduling, subscriptions, triggers, types
from apps.flows.connections import host_key
from apps.flows.engine import CardFailed, Execution, Limits, RunLost, _redacted
from apps.flows.errors import CardError, FlowLimitExceeded
from apps.flows.models import (
    CHAT_CONNECTION_KINDS,
    RUN_LIFECYCLE,
    SECRET_MEANING,
    ApiEndpoint,
    CardRun,
    Connection,
    ConnectionKind,
    Flow,
    FlowKind,
    FlowRun,
    FlowVersion,
    RunStatus,
    Trigger,
)
from apps.flows.run_actor import acting_for
from apps.flows.validation import validate_definition

logger = logging.getLogger(__name__)

# A scheduled slot later than this (workers down) counts as missed: see start_scheduled.
MISSED_AFTER = timedelta(minutes=5)

FLOW_FIELDS = ("name", "description", "folder", "kind", "enabled", "save_history")


# --- Definitions and versions ---------------------------------------------------------------


@transaction.atomic
def flow_create(
    *, actor, name: str, definition: Mapping[str, Any], kind: str = FlowKind.HELPER, **fields
) -> Flow:
    """Create a flow with its first version."""
    unknown = set(fields) - set(FLOW_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown flow field." for name in sorted(unknown)})
    validate_definition(definition, kind=kind)
    flow = Flow(name=name, kind=kind, **fields)
    flow.full_clean(exclude=["current_version"])
    flow.save()
    emit(
        events.FLOW_CREATED,
        actor=actor,
        target=flow,
        data={"old": None, "new": {"name": name, "kind": kind}},
    )
    _new_version(flow, definition, actor=actor, note="created")
    return flow


@transaction.atomic
def flow_save_definition(
    *, flow: Flow, actor, definition: Mapping[str, Any], note: str = ""
) -> FlowVersion:
    """Save a changed definition as the flow's next version (an unchanged one saves nothing)."""
    flow = Flow.objects.select_for_update().get(pk=flow.pk)
    validate_definition(definition, kind=flow.kind)
    if flow.current_version_id and flow.current_version.definition == definition:
        return flow.current_version
    return _new_version(flow, definition, actor=actor, note=note)


@transaction.atomic
def flow_restore_version(*, version: FlowVersion, actor) -> FlowVersion:
    """Make an earlier version current again, as a new version copying it."""
    flow = Flow.objects.select_for_update().get(pk=version.flow_id)
    validate_definition(version.definition, kind=flow.kind)
    return _new_version(
        flow, version.definition, actor=actor, note=f"restored v{version.number}", restored=version
    )


def _new_version(flow: Flow, definition, *, actor, note: str, restored=None) -> FlowVersion:
    previous = flow.current_version.number if flow.current_version_id else None
    number = (flow.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    version = FlowVersion.objects.create(
        flow=flow,
        number=number,
        definition=definition,
        note=note,
        created_by=actor if actor is not None and actor.pk else None,
    )
    flow.current_version = version
    flow.save(update_fields=["current_version", "updated_at"])
    _triggers_changed(flow)
    hooks.sync_endpoint(flow=flow, definition=definition)
    emit(
        events.FLOW_VERSION_SAVED,
        actor=actor,
        target=flow,
        data={
            "old": {"version": previous},
            "new": {"version": number},
            "version": number,
            "restored_from": restored.number if restored else None,
        },
    )
    return version


@transaction.atomic
def flow_update(
    *,
    flow: Flow,
    actor,
    allowed_teams=None,
    definition: Mapping[str, Any] | None = None,
    note: str = "",
    **changes,
) -> Flow:
    """Change a flow's name, description, folder, kind, switches or allowed teams; with
    `definition`, save it too (checked against the new kind: a kind and its trigger change
    together)."""
    unknown = set(changes) - set(FLOW_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown flow field." for name in sorted(unknown)})
    flow = Flow.objects.select_for_update().get(pk=flow.pk)
    old = {field: getattr(flow, field) for field in changes}
    old_teams = sorted(flow.allowed_teams.values_list("pk", flat=True))
    for field, value in changes.items():
        setattr(flow, field, value)
    if definition is not None:
        validate_definition(definition, kind=flow.kind)
    elif "kind" in changes and flow.current_version_id:
        validate_definition(flow.current_version.definition, kind=flow.kind)
    flow.full_clean(exclude=["current_version"])
    flow.save()
    new = {field: getattr(flow, field) for field in changes}
    if allowed_teams is not None:
        flow.allowed_teams.set(allowed_teams)
        new["allowed_teams"] = sorted(team.pk for team in allowed_teams)
        old["allowed_teams"] = old_teams
    changed = changed_fields(old, new)
    if changed:
        emit(events.FLOW_UPDATED, actor=actor, target=flow, data=old_and_new(old, new, changed))
    if definition is not None and (
        not flow.current_version_id or flow.current_version.definition != definition
    ):
        _new_version(flow, definition, actor=actor, note=note)  # syncs the triggers
    elif {"kind", "enabled"} & set(changed):
        _triggers_changed(flow)
    return flow


def _triggers_changed(flow: Flow) -> None:
    """Keep the flow's schedule row and every process's event subscriptions in step with it."""
    scheduling.sync_schedule(flow)
    subscriptions.changed()


# --- Starting runs --------------------------------------------------------------------------


def check_run_inputs(version: FlowVersion, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs typed as the version declares them, or ValidationError naming each bad one."""
    declared = {spec["name"]: spec for spec in version.inputs}
    errors: dict[str, list[str]] = {
        name: ["The flow has no such input."] for name in raw if name not in declared
    }
    checked: dict[str, Any] = {}
    for name, spec in declared.items():
        value = raw.get(name)
        if value is None or value == "":
            if spec.get("required", True):
                errors[name] = ["This input is required."]
            checked[name] = None
            continue
        try:
            checked[name] = types.coerce(spec["type"], value)
        except types.TypeMismatch as error:
            errors[name] = [f"{name}: {error}."]
    if errors:
        raise ValidationError(errors)
    return checked


def _create_run(
    flow: Flow, inputs, *, trigger, trigger_ref="", actor=None, parent=None, idempotency_key=""
) -> FlowRun:
    flow = Flow.objects.select_related("current_version").get(pk=flow.pk)  # the version now
    if flow.current_version_id is None:
        raise ValidationError({"flow": f"Flow {flow} has no saved definition."})
    if not flow.enabled:
        raise ValidationError({"flow": f"Flow {flow} is disabled."})
    checked = check_run_inputs(flow.current_version, inputs)
    root_id = (parent.root_id or parent.pk) if parent else None
    if parent is not None:
        _count_helper_run(root_id)
        actor = actor or parent.started_by  # the tree acts for whoever started its root
    return FlowRun.objects.create(
        flow=flow,
        version=flow.current_version,
        trigger=trigger,
        trigger_ref=trigger_ref[:255],
        started_by=actor if actor is not None and getattr(actor, "pk", None) else None,
        parent=parent,
        root_id=root_id,
        depth=parent.depth + 1 if parent else 0,
        inputs=checked,
        history_saved=flow.save_history,
        correlation_id=current_correlation_id(),
        idempotency_key=idempotency_key,
    )


def _queue(run: FlowRun) -> None:
    async_task("apps.flows.tasks.execute_run", run.pk, task_name=f"flow run {run.pk}")


def _count_helper_run(root_id: int) -> None:
    """Count one more helper run under the root, or FlowLimitExceeded once it has started as
    many as the limit allows (one atomic update: concurrent workers cannot overshoot)."""
    limit = Limits.from_settings().max_runs_per_root
    counted = FlowRun.objects.filter(pk=root_id, runs_started__lt=limit).update(
        runs_started=F("runs_started") + 1
    )
    if not counted:
        raise FlowLimitExceeded(
            f"run #{root_id} has already started {limit} helper runs in all (limit)"
        )


@transaction.atomic
def run_enqueue(
    *, flow: Flow, inputs: Mapping[str, Any], trigger: str, trigger_ref: str = "", actor=None
) -> FlowRun:
    """Queue a run (typed inputs checked now); a worker executes it after commit. A run a
    person starts (by hand, again, through the API) is a system log event with them as actor."""
    run = _create_run(flow, inputs, trigger=trigger, trigger_ref=trigger_ref, actor=actor)
    if run.started_by_id is not None:
        emit(
            events.RUN_QUEUED,
            actor=actor,
            target=run,
            data={
                "run_id": run.pk,
                "flow": run.flow.name,
                "version": run.version.number,
                "trigger": trigger,
                "trigger_ref": run.trigger_ref,
                "inputs": _redacted(run.inputs),
            },
        )
    transaction.on_commit(lambda: _queue(run))
    return run


def run_now(
    *,
    flow: Flow,
    inputs: Mapping[str, Any],
    trigger: str = Trigger.API,
    trigger_ref: str = "",
    actor=None,
) -> FlowRun:
    """Create a run and execute it in this process (API flows answering synchronously)."""
    run = _create_run(flow, inputs, trigger=trigger, trigger_ref=trigger_ref, actor=actor)
    return execute(run, actor=actor)


def run_child(*, parent: FlowRun, flow_name: str, inputs: Mapping[str, Any], wait: bool) -> FlowRun:
    """Start a helper flow as a child of `parent`: now and in-process, or queued."""
    flow = Flow.objects.select_related("current_version").filter(name=flow_name).first()
    if flow is None:
        raise CardError(f"no flow named '{flow_name}'")
    try:
        run = _create_run(
            flow, inputs, trigger=Trigger.CHILD, trigger_ref=f"flow_run:{parent.pk}", parent=parent
        )
    except ValidationError as error:
        raise CardError(f"helper flow '{flow_name}': {'; '.join(error.messages)}") from error
    if wait:
        return execute(run)
    transaction.on_commit(lambda: _queue(run))
    return run


@transaction.atomic
def run_again(*, run: FlowRun, actor) -> FlowRun:
    """Queue a new run of the same flow with the same inputs (on the current version)."""
    return run_enqueue(
        flow=run.flow,
        inputs=run.inputs,
        trigger=Trigger.RERUN,
        trigger_ref=f"flow_run:{run.pk}",
        actor=actor,
    )


def run_start_once(
    *,
    flow: Flow,
    inputs: Mapping[str, Any],
    trigger: str,
    trigger_ref: str,
    idempotency_key: str,
    parent: FlowRun | None = None,
) -> tuple[FlowRun, bool]:
    """Queue a run unless one with this key exists (an event or a schedule slot starts a flow
    once, however often its delivery is retried); returns (run, whether it is new).

    A run found still queued is queued again: the delivery that created it may have died
    before queueing it, and executing a run twice is safe (the second finds it taken)."""
    with transaction.atomic():
        existing = FlowRun.objects.filter(flow=flow, idempotency_key=idempotency_key).first()
        if existing is None:
            try:
                with transaction.atomic():
                    run = _create_run(
                        flow,
                        inputs,
                        trigger=trigger,
                        trigger_ref=trigger_ref,
                        idempotency_key=idempotency_key,
                        parent=parent,
                    )
            except IntegrityError:  # a concurrent delivery created it first
                existing = FlowRun.objects.get(flow=flow, idempotency_key=idempotency_key)
            else:
                transaction.on_commit(lambda: _queue(run))
                return run, True
        if existing.status == RunStatus.QUEUED:
            transaction.on_commit(lambda: _queue(existing))
        return existing, False


def _declared(flow: Flow, offered: Mapping[str, Any]) -> dict[str, Any]:
    names = {spec.get("name") for spec in flow.current_version.inputs if isinstance(spec, dict)}
    return {name: value for name, value in offered.items() if name in names}


def start_event_flows(event) -> int:
    """The system log's subscriber: start each enabled event flow listening to this event (its
    types and filters) once. Returns how many runs it started now.

    An event written by a flow run starts its flows under that run (same root, one level
    deeper), so chains of flows answering each other's events stop at the nesting and
    runs-per-root limits; and it never starts the flow whose run wrote it."""
    started = 0
    matching = subscriptions.subscribed_to(event.event_type)
    if not matching:
        return 0
    offered = triggers.event_inputs(event)
    causing_run = _run_that_wrote(event)
    max_depth = Limits.from_settings().max_depth
    for subscription in matching:
        if not triggers.filters_pass(subscription.filters, offered):
            continue
        flow = Flow.objects.select_related("current_version").filter(pk=subscription.flow_id)
        flow = flow.first()
        if flow is None or not flow.enabled or flow.kind != FlowKind.EVENT:
            continue
        if causing_run is not None:
            if causing_run.flow_id == flow.pk:
                continue
            if causing_run.depth + 1 > max_depth:
                logger.warning(
                    "Event %s of run #%s did not start flow %s: flows started by each other's "
                    "events are nested more than %s deep (limit)",
                    event.uuid,
                    causing_run.pk,
                    flow,
                    max_depth,
                )
                continue
        try:
            _, created = run_start_once(
                flow=flow,
                inputs=_declared(flow, offered),
                trigger=Trigger.EVENT,
                trigger_ref=f"event:{event.event_type}:{event.uuid}"[:255],
                idempotency_key=f"event:{event.uuid}",
                parent=causing_run,
            )
        except (ValidationError, FlowLimitExceeded) as error:
            logger.warning("Event %s could not start flow %s: %s", event.uuid, flow, error)
            continue
        started += created
    return started


def _run_that_wrote(event) -> FlowRun | None:
    data = event.data if isinstance(event.data, dict) else {}
    run_id = data.get("flow_run")
    if run_id is None and event.event_type.startswith("flows.run."):
        run_id = data.get("run_id")
    if not isinstance(run_id, int):
        return None
    return FlowRun.objects.filter(pk=run_id).first()


def start_scheduled(*, flow_id: int, scheduled_for: datetime | None = None) -> str:
    """The schedule's task: start the scheduled flow for the slot it was planned for, once.

    A slot more than MISSED_AFTER late (the workers were down) runs once when the trigger says
    `missed: once` (the default) and is skipped when it says `skip`; django-q2 fires a late
    schedule once and then moves it to the next slot after now, so downtime never bursts."""
    flow = Flow.objects.select_related("current_version").filter(pk=flow_id).first()
    trigger = scheduling.scheduled_trigger(flow) if flow is not None else None
    if trigger is None:
        return "not an enabled scheduled flow"
    now = timezone.now()
    slot = scheduled_for or now
    starts_at, ends_at = triggers.schedule_bounds(trigger)
    if (starts_at and slot < starts_at) or (ends_at and slot > ends_at):
        return "outside the schedule's start and end"
    if now - slot > MISSED_AFTER and trigger.get("missed", "once") == "skip":
        logger.warning("Scheduled flow %s missed its %s run: skipped", flow, slot.isoformat())
        return "missed: skipped"
    key = f"schedule:{slot.astimezone(UTC).isoformat()}"
    run, created = run_start_once(
        flow=flow,
        inputs=_declared(flow, {"scheduled_for": slot}),
        trigger=Trigger.SCHEDULE,
        trigger_ref=key,
        idempotency_key=key,
    )
    return f"run #{run.pk}" if created else f"already started: run #{run.pk}"


@transaction.atomic
def run_cancel(*, run: FlowRun, actor) -> FlowRun:
    """Cancel a queued run (or mark a running one canceled: its worker finishes the card)."""
    run = FlowRun.objects.select_for_update().get(pk=run.pk)
    run.status = RUN_LIFECYCLE.target("cancel", run.status, subject=f"run #{run.pk}")
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at"])
    emit(events.RUN_CANCELED, actor=actor, target=run, data={"run_id": run.pk})
    return run


def start_delegated(
    *,
    flow: Flow,
    inputs: Mapping[str, Any],
    trigger_ref: str,
    team=None,
    actor=None,
    trigger: str = Trigger.DELEGATED,
) -> FlowRun:
    """The one-way call from a request (or an admin): check the permission, queue the run."""
    if flow.kind != FlowKind.DELEGATED:
        raise ValidationError({"flow": f"{flow} is not a delegated flow."})
    if team is not None and not flow.allowed_teams.filter(pk=team.pk).exists():
        raise PermissionDenied(f"Team {team} may not run the delegated flow {flow}.")
    if team is None and actor is not None and not actor.has_perm("flows.run_delegated_flow"):
        raise PermissionDenied("You may not run delegated flows.")
    return run_enqueue(
        flow=flow, inputs=inputs, trigger=trigger, trigger_ref=trigger_ref, actor=actor
    )


# --- Executing ------------------------------------------------------------------------------


def execute(run: FlowRun, *, actor=None) -> FlowRun:
    """Run a queued run to its end and write its history; returns the finished run.

    Safe to call twice: a run another worker holds, or a finished or canceled one, is left
    alone. A running run whose lease lapsed (its worker died) is taken up: started again if
    it was only in idempotent cards, else failed saying which card it was lost in.
    """
    limits = Limits.from_settings()
    now = timezone.now()
    claimed = FlowRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING,
        started_at=now,
        lease_expires_at=now + timedelta(seconds=limits.lease_seconds),
        claims=F("claims") + 1,
    )
    if not claimed and not _take_up_lost(run.pk, limits=limits, restart=True):
        return FlowRun.objects.get(pk=run.pk)
    run = FlowRun.objects.select_related("flow", "version").get(pk=run.pk)
    if run.status != RunStatus.RUNNING:  # taken up and failed: it may not run again
        return run
    execution = Execution(run, limits=limits, actor=actor or run.started_by)
    status, output, error, error_card = RunStatus.SUCCEEDED, None, "", ""
    try:
        with correlation(run.correlation_id or None), acting_for(run):
            output = execution.run_all()
    except RunLost:
        logger.warning("Flow run %s was taken up elsewhere or canceled: stopped", run.pk)
        return FlowRun.objects.get(pk=run.pk)
    except QueueTaskTimeout as timeout:  # Q_TIMEOUT: say so on the run, then let the queue act
        card = execution.current_card
        _finish(
            run,
            _Unrecorded(execution),
            status=RunStatus.FAILED,
            output=None,
            error=f"the queue's task time limit stopped the run during card '{card}' ({timeout})",
            error_card=card,
        )
        raise
    except CardFailed as failure:
        status, error, error_card = RunStatus.FAILED, failure.message, failure.card_id
    except (CardError, FlowLimitExceeded) as failure:
        status, error = RunStatus.FAILED, str(failure)
    except Exception as failure:  # the engine itself: record it rather than lose the run
        logger.exception("Flow run %s crashed", run.pk)
        status, error = RunStatus.FAILED, f"internal error: {failure!r}"
    try:
        _finish(run, execution, status=status, output=output, error=error, error_card=error_card)
    except RunLost:
        return FlowRun.objects.get(pk=run.pk)
    except Exception as failure:  # e.g. an output the history cannot hold: end it failed
        logger.exception("Flow run %s could not be finished", run.pk)
        _finish(
            run,
            _Unrecorded(execution),
            status=RunStatus.FAILED,
            output=None,
            error=f"the run's result could not be saved: {failure!r}"[:2000],
            error_card=error_card,
        )
    return run


class _Unrecorded:
    """An execution whose history could not be written: finish the run without it."""

    def __init__(self, execution: Execution):
        self.records, self.executed, self.claim = [], execution.executed, execution.claim


@transaction.atomic
def _finish(run: FlowRun, execution: Execution, *, status, output, error, error_card) -> None:
    run.status = status
    run.output = _json_safe(output)
    run.error = error
    run.error_card = error_card
    run.cards_executed = execution.executed
    run.finished_at = timezone.now()
    finished = FlowRun.objects.filter(
        pk=run.pk, status=RunStatus.RUNNING, claims=execution.claim
    ).update(
        status=status,
        output=run.output,
        error=error,
        error_card=error_card,
        cards_executed=execution.executed,
        finished_at=run.finished_at,
        lease_expires_at=None,
    )
    if not finished:  # canceled meanwhile, or taken up by another worker: theirs to say
        raise RunLost(f"run #{run.pk} is no longer held by this worker")
    if execution.records:
        CardRun.objects.bulk_create(execution.records, batch_size=1000)
    if status == RunStatus.FAILED:
        _emit_failed(run, error=error, card=error_card)


def _emit_failed(run: FlowRun, *, error: str, card: str, **data) -> None:
    emit(
        events.RUN_FAILED,
        target=run,
        outcome="failure",
        message=error[:500],
        data={"run_id": run.pk, "flow": run.flow.name, "card": card, "error": error, **data},
    )


# --- Runs whose worker was lost -------------------------------------------------------------


def _lost(limits: Limits):
    """Running runs whose lease lapsed (or, from before leases, that ran far too long)."""
    now = timezone.now()
    too_long = now - timedelta(seconds=limits.max_seconds + limits.lease_seconds)
    return FlowRun.objects.filter(status=RunStatus.RUNNING).filter(
        Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True, started_at__lt=too_long)
    )


def _take_up_lost(run_id: int, *, limits: Limits, restart: bool) -> bool:
    """Take a lost run's lease. Then fail it, if it was in (or past) a card that must not run
    twice or has been lost too often; else start it again: here (`restart`, the redelivered
    task) or by queueing it. True when this worker now holds it to run it."""
    run = _lost(limits).filter(pk=run_id).select_related("flow").first()
    if run is None:
        return False
    now = timezone.now()
    taken = FlowRun.objects.filter(
        pk=run.pk,
        status=RunStatus.RUNNING,
        claims=run.claims,
        lease_expires_at=run.lease_expires_at,
    ).update(lease_expires_at=now + timedelta(seconds=limits.lease_seconds), claims=run.claims + 1)
    if not taken:  # another worker or the sweep got there first
        return False
    run.claims += 1
    lost_in = run.current_card or run.side_effect_card
    if run.side_effect_card or run.claims > limits.max_claims:
        if run.side_effect_card:
            after = "" if lost_in == run.side_effect_card else f", after '{run.side_effect_card}'"
            error = (
                f"worker lost during card '{lost_in}'{after} (not idempotent, so the run is "
                "not run again)"
            )
        else:
            error = (
                f"worker lost {run.claims - 1} times (last during card '{lost_in or '?'}'): "
                "not taken up again"
            )
        _fail_lost(run, error=error, card=lost_in)
        return False
    logger.warning("Flow run %s lost its worker (card %r): taken up again", run.pk, lost_in)
    fields = {"current_card": "", "started_at": now}
    if restart:
        FlowRun.objects.filter(pk=run.pk, claims=run.claims).update(**fields)
        return True
    requeued = FlowRun.objects.filter(pk=run.pk, claims=run.claims).update(
        status=RUN_LIFECYCLE.target("requeue", run.status, subject=f"run #{run.pk}"),
        lease_expires_at=None,
        claims=run.claims - 1,  # the worker that executes it counts the claim
        **fields,
    )
    if requeued:
        transaction.on_commit(lambda: _queue(run))
    return False


@transaction.atomic
def _fail_lost(run: FlowRun, *, error: str, card: str) -> None:
    failed = FlowRun.objects.filter(pk=run.pk, claims=run.claims).update(
        status=RUN_LIFECYCLE.target("fail", run.status, subject=f"run #{run.pk}"),
        error=error,
        error_card=card[:255],
        finished_at=timezone.now(),
        lease_expires_at=None,
    )
    if failed:
        _emit_failed(run, error=error, card=card, reason="worker_lost")


def take_up_lost_runs(*, limit: int = 500) -> dict[str, int]:
    """The sweep: every running run whose lease lapsed is queued again or failed (see
    `_take_up_lost`). Returns how many of each."""
    limits = Limits.from_settings()
    counts = {"queued_again": 0, "failed": 0}
    for run_id in list(
        _lost(limits).order_by("lease_expires_at").values_list("pk", flat=True)[:limit]
    ):
        _take_up_lost(run_id, limits=limits, restart=False)
        status = FlowRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
        if status == RunStatus.QUEUED:
            counts["queued_again"] += 1
        elif status == RunStatus.FAILED:
            counts["failed"] += 1
    return counts


def _json_safe(value):
    from apps.flows.engine import _plain

    return _plain(value) if value is not None else None


# --- Stored connections ---------------------------------------------------------------------

CONNECTION_FIELDS = (
    "name",
    "description",
    "kind",
    "enabled",
    "token_url",
    "client_id",
    "scope",
    "username",
    "header_name",
    "test_url",
    "allowed_private_hosts",
    "notify_every_request",
)
# Changing one of these (or the secret) makes a cached OAuth 2.0 token meaningless.
_TOKEN_FIELDS = frozenset({"kind", "token_url", "client_id", "scope"})
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
SECRET_SHOWN = "********"


def _connection_state(connection: Connection) -> dict[str, Any]:
    """What an event shows of a connection: its settings, and of its secret only whether one
    is set."""
    state = {field: getattr(connection, field) for field in CONNECTION_FIELDS}
    state["notify_teams"] = (
        sorted(connection.notify_teams.values_list("pk", flat=True)) if connection.pk else []
    )
    state["secret"] = SECRET_SHOWN if connection.encrypted_secret else ""
    return state


def _clean_connection(
    connection: Connection, *, secret: str | None, notify_teams: list | None = None
) -> None:
    """Field errors of a connection about to be saved (`secret`: the new one, if any;
    `notify_teams`: the teams it will post for, when they change)."""
    errors: dict[str, list[str]] = {}
    if connection.kind not in CHAT_CONNECTION_KINDS:
        if connection.notify_every_request:
            errors["notify_every_request"] = ["Only a chat webhook posts request events."]
        if notify_teams:
            errors["notify_teams"] = ["Only a chat webhook posts request events."]
    hosts = connection.allowed_private_hosts
    if hosts in (None, ""):
        hosts = []
    if not isinstance(hosts, list) or not all(isinstance(host, str) for host in hosts):
        errors.setdefault("allowed_private_hosts", []).append("A list of host names.")
    else:
        cleaned = []
        for host in hosts:
            key = host_key(host)
            if not key:
                continue
            if any(c in key for c in "/ ?#@[]") or key.count(":") == 1:
                errors.setdefault("allowed_private_hosts", []).append(
                    f"{host!r}: a host name or address only (no scheme, port or path)."
                )
            cleaned.append(key)
        connection.allowed_private_hosts = sorted(set(cleaned))
    kind = connection.kind
    required = {
        ConnectionKind.OAUTH2_CLIENT_CREDENTIALS: ("token_url", "client_id"),
        ConnectionKind.BASIC: ("username",),
        ConnectionKind.HEADER: ("header_name",),
    }.get(kind, ())
    for field in required:
        if not str(getattr(connection, field) or "").strip():
            errors.setdefault(field, []).append("Required for this kind of connection.")
    if (
        kind == ConnectionKind.HEADER
        and connection.header_name
        and not _HEADER_NAME.match(connection.header_name)
    ):
        errors.setdefault("header_name", []).append("Not a valid HTTP header name.")
    if secret is not None and "\n" in secret:
        errors.setdefault("secret", []).append("A secret is one line.")
    if secret is not None and kind in CHAT_CONNECTION_KINDS:
        parts = urlsplit(secret.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors.setdefault("secret", []).append("The webhook URL: an http(s) address.")
    if not connection.encrypted_secret and not secret:
        errors.setdefault("secret", []).append(
            f"Required: {SECRET_MEANING.get(kind, 'the secret')}."
        )
    try:
        connection.full_clean(exclude=["encrypted_secret", "encrypted_access_token"])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def connection_check(
    *, connection: Connection, secret: str | None, kind_changed: bool, notify_teams=None
) -> None:
    """The errors saving `connection` (an unsaved copy of the edited row) would give, for
    forms that show them before saving."""
    candidate = copy.copy(connection)
    if kind_changed and not secret:
        candidate.encrypted_secret = ""
    _clean_connection(candidate, secret=secret or None, notify_teams=notify_teams)


def _set_secret(connection: Connection, secret: str) -> None:
    try:
        connection.encrypted_secret = encryption.encrypt(secret.strip())
    except encryption.EncryptionNotConfigured as error:
        raise ValidationError({"secret": [str(error)]}) from None


@transaction.atomic
def connection_create(
    *, actor, name: str, kind: str, secret: str, notify_teams=None, **fields
) -> Connection:
    """Store a connection; `secret` is encrypted before it is written."""
    unknown = set(fields) - set(CONNECTION_FIELDS)
    if unknown:
        raise ValidationError({field: "Unknown connection field." for field in sorted(unknown)})
    connection = Connection(name=name, kind=kind, **fields)
    notify_teams = list(notify_teams or [])
    _clean_connection(connection, secret=secret or None, notify_teams=notify_teams)
    _set_secret(connection, secret)
    connection.save()
    connection.notify_teams.set(notify_teams)
    emit(
        events.CONNECTION_CREATED,
        actor=actor,
        target=connection,
        data={"old": None, "new": _connection_state(connection)},
    )
    return connection


@transaction.atomic
def connection_update(
    *, connection: Connection, actor, secret: str | None = None, notify_teams=None, **changes
) -> Connection:
    """Change a connection's settings; a non-empty `secret` replaces the stored one (empty or
    None keeps it), `notify_teams` (when given) replaces the teams it posts for. Changing the
    kind needs a new secret: the old one meant something else."""
    unknown = set(changes) - set(CONNECTION_FIELDS)
    if unknown:
        raise ValidationError({field: "Unknown connection field." for field in sorted(unknown)})
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    old = _connection_state(connection)
    for field, value in changes.items():
        setattr(connection, field, value)
    secret = secret or None
    if "kind" in changes and changes["kind"] != old["kind"] and secret is None:
        connection.encrypted_secret = ""  # so that a new one is required below
    teams = list(notify_teams) if notify_teams is not None else list(connection.notify_teams.all())
    _clean_connection(connection, secret=secret, notify_teams=teams)
    if secret is not None:
        _set_secret(connection, secret)
    new = _connection_state(connection)
    if notify_teams is not None:
        new["notify_teams"] = sorted(team.pk for team in teams)
    changed = changed_fields(old, new)
    if secret is not None:
        new["secret"] = "changed"
        changed = [*changed, "secret"] if "secret" not in changed else changed
    if not changed:
        return connection
    if secret is not None or _TOKEN_FIELDS & set(changed):
        connection.encrypted_access_token = ""
        connection.access_token_expires_at = None
    connection.save()
    if notify_teams is not None:
        connection.notify_teams.set(teams)
    emit(
        events.CONNECTION_UPDATED,
        actor=actor,
        target=connection,
        data=old_and_new(old, new, changed),
    )
    return connection


@transaction.atomic
def connection_delete(*, connection: Connection, actor) -> None:
    """Delete a connection (flows naming it then fail with "no connection named ...")."""
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    old = _connection_state(connection)
    emit(events.CONNECTION_DELETED, actor=actor, target=connection, data={"old": old, "new": None})
    connection.delete()


def connections_rotate_keys() -> int:
    """Re-encrypt every stored secret and cached token under the first configured key; how
    many connections were rewritten. Each row in its own short transaction."""
    rewritten = 0
    for pk in Connection.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            connection = Connection.objects.select_for_update().get(pk=pk)
            secret = encryption.rotate(connection.encrypted_secret)
            token = connection.encrypted_access_token
            try:
                token = encryption.rotate(token)
            except encryption.SecretUnreadable:
                token = ""  # a cache: fetched again when needed
            Connection.objects.filter(pk=pk).update(
                encrypted_secret=secret,
                encrypted_access_token=token,
                access_token_expires_at=connection.access_token_expires_at if token else None,
            )
            rewritten += 1
    return rewritten


# --- API-endpoint flows ---------------------------------------------------------------------


@transaction.atomic
def endpoint_rotate_token(*, endpoint: ApiEndpoint, actor) -> str:
    """Give the endpoint a new client token and return it (shown once: only its hash is kept);
    the previous token stops working at once."""
    endpoint = ApiEndpoint.objects.select_for_update().select_related("flow").get(pk=endpoint.pk)
    token = secrets.token_urlsafe(32)
    old_prefix = endpoint.token_prefix or None
    endpoint.token_hash = hash_secret(token)
    endpoint.token_prefix = token[:8]
    endpoint.token_rotated_at = timezone.now()
    endpoint.save(update_fields=["token_hash", "token_prefix", "token_rotated_at"])
    emit(
        events.ENDPOINT_TOKEN_ROTATED,
        actor=actor,
        target=endpoint.flow,
        data={
            "slug": endpoint.slug,
            "old": {"token_prefix": old_prefix},
            "new": {"token_prefix": endpoint.token_prefix},
        },
    )
    return token


class _InlineExecution(Execution):
    """An execution whose run exists only in this process until it is written whole: there is
    no lease to hold, since no other worker can see the run."""

    def _write_lease(self, now: float, **fields) -> None:
        self.renew_at = now + self.renew_every


def run_inline(
    *,
    flow_id: int,
    version: FlowVersion,
    inputs: Mapping[str, Any],
    save_history: bool,
    trigger: str = Trigger.API,
    trigger_ref: str = "",
    actor=None,
    max_seconds: float | None = None,
) -> tuple[FlowRun, bool]:
    """Run a version whose cards are all in-process and idempotent here and now, then write the
    run and its history in one transaction (one insert for the run, one for its cards).

    Returns the finished run and whether it ran out of time (`max_seconds`, below the global
    limit). ValidationError naming each refused input, before anything runs or is written.
    """
    checked = check_run_inputs(version, inputs)
    limits = Limits.from_settings()
    if max_seconds is not None and max_seconds < limits.max_seconds:
        limits = replace(limits, max_seconds=max_seconds)
    now = timezone.now()
    person = actor if actor is not None and getattr(actor, "pk", None) else None
    run = FlowRun(
        flow_id=flow_id,
        version=version,
        status=RunStatus.RUNNING,
        trigger=trigger,
        trigger_ref=trigger_ref[:255],
        started_by=person,
        inputs=checked,
        history_saved=save_history,
        correlation_id=current_correlation_id(),
        created_at=now,
        started_at=now,
        claims=1,
    )
    execution = _InlineExecution(run, limits=limits, actor=person)
    status, output, error, error_card = RunStatus.SUCCEEDED, None, "", ""
    try:
        output = _json_safe(execution.run_all())
    except CardFailed as failure:
        status, error, error_card = RunStatus.FAILED, failure.message, failure.card_id
    except (CardError, FlowLimitExceeded) as failure:
        status, error = RunStatus.FAILED, str(failure)
    except Exception as failure:  # the engine itself: record it rather than lose the run
        logger.exception("Inline run of flow %s crashed", flow_id)
        status, error = RunStatus.FAILED, f"internal error: {failure!r}"
    timed_out = status == RunStatus.FAILED and time.monotonic() > execution.deadline
    run.status, run.output, run.error, run.error_card = status, output, error, error_card
    run.cards_executed = execution.executed
    run.finished_at = timezone.now()
    if (
        status == RunStatus.SUCCEEDED
        and person is None
        and _insert_in_one_statement(run, execution.records)
    ):
        return run, False
    with transaction.atomic():
        run.save(force_insert=True)
        if execution.records:
            CardRun.objects.bulk_create(execution.records, batch_size=1000)
        if person is not None:
            emit(
                events.RUN_QUEUED,
                actor=person,
                target=run,
                data={
                    "run_id": run.pk,
                    "flow": version.flow.name,
                    "version": version.number,
                    "trigger": trigger,
                    "trigger_ref": run.trigger_ref,
                    "inputs": _redacted(run.inputs),
                },
            )
        if status == RunStatus.FAILED:
            _emit_failed(run, error=error, card=error_card)
    return run, timed_out


_ONE_STATEMENT_MAX_CARDS = 200


def _insert_in_one_statement(run: FlowRun, records: list[CardRun]) -> bool:
    """On PostgreSQL, write a run and its cards with one statement (a data-modifying CTE):
    atomic by itself, one round trip, no BEGIN / COMMIT. False where it does not apply (another
    database, no history, a long history): write them the ordinary way."""
    if connection.vendor != "postgresql" or not records or len(records) > _ONE_STATEMENT_MAX_CARDS:
        return False
    sql, run_fields, card_fields = _one_statement_sql(len(records))
    params = [f.get_db_prep_save(getattr(run, f.attname), connection) for f in run_fields]
    for record in records:
        params += [f.get_db_prep_save(getattr(record, f.attname), connection) for f in card_fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        run.pk = cursor.fetchone()[0]
    run._state.adding = False
    for record in records:
        record.run = run
        record._state.adding = False
    return True


@functools.lru_cache(maxsize=_ONE_STATEMENT_MAX_CARDS)
def _one_statement_sql(cards: int):
    """The statement writing a run and `cards` card records, with the fields it takes."""
    quote = connection.ops.quote_name
    run_fields = [f for f in FlowRun._meta.concrete_fields if not f.primary_key]
    card_fields = [
        f for f in CardRun._meta.concrete_fields if not f.primary_key and f.name != "run"
    ]
    # The VALUES list has no target column to type its parameters: cast each (text for
    # varchar, so that a value too long fails as the ORM's insert would, never truncated).
    casts = [
        "text" if f.db_type(connection).startswith("varchar") else f.db_type(connection)
        for f in card_fields
    ]
    row = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    card_columns = ", ".join(quote(f.column) for f in card_fields)
    # Only model-defined names are formatted in; every value is a parameter.
    sql = (
        f"WITH new_run AS (INSERT INTO {quote(FlowRun._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(f.column) for f in run_fields)}) "
        f"VALUES ({', '.join(['%s'] * len(run_fields))}) RETURNING {quote('id')}) "
        f"INSERT INTO {quote(CardRun._meta.db_table)} ({quote('run_id')}, {card_columns}) "
        f"SELECT new_run.{quote('id')}, cards.* FROM new_run, "
        f"(VALUES {', '.join([row] * cards)}) AS cards ({card_columns}) "
        f"RETURNING {quote('run_id')}"
    )
    return sql, run_fields, card_fields
