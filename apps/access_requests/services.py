"""Domain verbs of access requests. Each runs in one transaction.

Every state change writes a timeline entry on the request and a system log event; e-mails are
sent by the queue after commit. The request runs the steps of its snapshot in order: questions
were answered at submit, approvals wait for their level to settle, actions run at once, tasks
wait for the assignee.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from apps.access_requests import chain, events, notifications
from apps.access_requests.approvers import escalation_targets, resolve_approvers
from apps.access_requests.models import (
    REQUEST_LIFECYCLE,
    AccessGrant,
    AccessRequest,
    ActionKind,
    Approval,
    ApprovalLevel,
    ApprovalStatus,
    ApproverDelegation,
    FlowInputSource,
    GrantStatus,
    LevelStatus,
    RequestAttribute,
    RequestStatus,
    RequestType,
    RequestTypeStatus,
    StepKind,
    Task,
    TaskStatus,
    TimelineEntry,
    TimelineKind,
    TimeoutAction,
)
from apps.access_requests.selectors import (
    may_cancel_request,
    may_comment,
    may_complete_task,
    may_manage_delegations_of,
    overlapping_delegation,
    request_type_visible_to,
)
from apps.audit.changes import changed_fields, old_and_new
from apps.audit.models import Outcome
from apps.audit.services import emit
from apps.core.statemachine import StateConflict
from apps.directory import services as directory
from apps.directory.models import (
    AppAssignment,
    Application,
    GrantSource,
    Group,
    GroupMembership,
    User,
)
from apps.flows import services as flows
from apps.flows import types as flow_types
from apps.flows.models import Flow
from apps.teams.services import team_pick_assignee

logger = logging.getLogger(__name__)


# --- Helpers shared by the verbs ------------------------------------------------------------


def _record(
    request: AccessRequest,
    kind: str,
    message: str,
    *,
    actor: User | None = None,
    data: Mapping[str, Any] | None = None,
) -> TimelineEntry:
    return TimelineEntry.objects.create(
        request=request, kind=kind, message=message, actor=actor, data=dict(data or {})
    )


def _event(event_type, request: AccessRequest, *, actor: User | None, **data: Any) -> None:
    emit(
        event_type,
        actor=actor,
        target=request,
        data={"request_id": request.pk, "request_type": request.snapshot["name"], **data},
    )


def _touch(request: AccessRequest) -> None:
    """Note activity: the inactivity clock starts again."""
    now = timezone.now()
    request.last_activity_at = now
    request.expires_at = now + dt.timedelta(days=request.snapshot["inactivity_days"])
    request.expiry_warnings_sent = []


# What changes on a request after it is filed (the snapshot and answers never do): saving only
# these keeps each step from rewriting the type's snapshot.
MOVING_FIELDS = [
    "status",
    "next_step",
    "finished_at",
    "expires_at",
    "last_activity_at",
    "expiry_warnings_sent",
    "updated_at",
]


def _move(request: AccessRequest, verb: str, *, actor: User | None, reason: str) -> None:
    """Apply a lifecycle verb: status, timeline, system log, e-mail to the requester."""
    old = request.status
    request.status = REQUEST_LIFECYCLE.target(verb, old, subject=f"request #{request.pk}")
    if request.status not in (RequestStatus.PENDING, RequestStatus.APPROVED):
        request.finished_at = timezone.now()
        request.expires_at = None
    request.save(update_fields=MOVING_FIELDS)
    _record(
        request,
        TimelineKind.STATUS,
        f"{request.get_status_display()}: {reason}",
        actor=actor,
        data={"old": old, "new": request.status},
    )
    _event(
        events.REQUEST_STATUS_EVENTS[verb],
        request,
        actor=actor,
        old={"status": old},
        new={"status": request.status},
        reason=reason,
    )
    notifications.later("status_changed", request_id=request.pk, status=request.status)


def _locked(request: AccessRequest) -> AccessRequest:
    return (
        AccessRequest.objects.select_for_update(of=("self",))
        .select_related("requester", "requester__manager", "request_type")
        .get(pk=request.pk)
    )


# --- Submitting -----------------------------------------------------------------------------


@transaction.atomic
def request_submit(
    *, request_type: RequestType, requester: User, answers: Mapping[str, Any]
) -> AccessRequest:
    """File a request: answers checked by type, an assignee picked, the first steps started."""
    request_type = RequestType.objects.select_related(
        "owning_team", "resource_group", "resource_application", "resource_item"
    ).get(pk=request_type.pk)
    if not request_type_visible_to(request_type, requester):
        raise PermissionDenied("This request type is not offered to you.")
    if request_type.status != RequestTypeStatus.ACTIVE:
        raise ValidationError({"request_type": "This request type is not open for requests."})
    frozen = chain.snapshot(
        request_type, request_type.steps.select_related("flow__current_version")
    )
    cleaned = chain.clean_answers(frozen, answers or {})
    frozen["answer_labels"] = chain.answer_labels(frozen, cleaned)
    assignee = team_pick_assignee(team=request_type.owning_team)
    subject = f"{request_type.name} for {requester}"
    if frozen["resource"]:
        subject = f"{request_type.name}: {frozen['resource']['name']} for {requester}"
    request = AccessRequest(
        request_type=request_type,
        type_version=request_type.version,
        snapshot=frozen,
        requester=requester,
        owning_team=request_type.owning_team,
        subject=subject[:255],
        assignee=assignee,
        answers=cleaned,
    )
    _touch(request)
    request.save()
    _record(
        request,
        TimelineKind.SUBMITTED,
        f"Submitted (request type version {request_type.version}).",
        actor=requester,
        data={"version": request_type.version, "assignee": assignee.pk if assignee else None},
    )
    _event(
        events.REQUEST_CREATED,
        request,
        actor=requester,
        new={"status": request.status, "assignee": assignee.pk if assignee else None},
        answers=cleaned,
    )
    if assignee is not None:
        notifications.later("assigned", request_id=request.pk)
    _advance(request, actor=requester)
    return request


# --- Running the chain ----------------------------------------------------------------------


def _remaining_approvals(request: AccessRequest, start: int) -> bool:
    return any(
        step["kind"] == StepKind.APPROVAL and chain.condition_holds(step, request.answers)
        for step in request.steps[start:]
    )


def _advance(request: AccessRequest, *, actor: User | None) -> None:
    """Run steps from `next_step` until one must wait (an approval level, a task) or the end."""
    steps = request.steps
    while request.is_open and request.next_step < len(steps):
        index = request.next_step
        step = steps[index]
        if step["kind"] == StepKind.QUESTION:
            request.next_step += 1
            continue
        if not chain.condition_holds(step, request.answers):
            _record(
                request,
                TimelineKind.STEP_SKIPPED,
                f"Step {index + 1} ({step['kind']}) skipped: its condition does not hold.",
                data={"step": index, "condition": step["condition"]},
            )
            request.next_step += 1
            continue
        if request.status == RequestStatus.PENDING and not _remaining_approvals(request, index):
            _move(request, "approve", actor=actor, reason="every approval level agreed.")
        if step["kind"] == StepKind.APPROVAL:
            request.save(update_fields=MOVING_FIELDS)
            _start_level(request, index, step)
            return
        request.next_step += 1
        if step["kind"] == StepKind.ACTION:
            _run_action(request, index, step, actor=actor)
        elif step["kind"] == StepKind.TASK:
            _create_task(request, index, step)
            request.save(update_fields=MOVING_FIELDS)
            return
    if request.status == RequestStatus.PENDING:
        _move(request, "approve", actor=actor, reason="no approval was needed.")
    if request.status == RequestStatus.APPROVED:
        _move(request, "close", actor=actor, reason="every step is done.")
    request.save(update_fields=MOVING_FIELDS)


def _level_number(request: AccessRequest, index: int) -> int:
    """1 for the first approval step of the type, 2 for the second... (skipped ones count)."""
    return sum(1 for step in request.steps[: index + 1] if step["kind"] == StepKind.APPROVAL)


def _start_level(request: AccessRequest, index: int, step: Mapping[str, Any]) -> ApprovalLevel:
    approvers = resolve_approvers(request, step)
    now = timezone.now()
    timeout = step.get("timeout_hours")
    quorum = max(1, min(step["quorum"], len(approvers.people) or 1))
    level = ApprovalLevel.objects.create(
        request=request,
        step_index=index,
        quorum=quorum,
        started_at=now,
        due_at=now + dt.timedelta(hours=timeout) if timeout else None,
    )
    Approval.objects.bulk_create(
        Approval(
            level=level,
            request=request,
            approver=person,
            delegated_from=approvers.delegated_from.get(person.pk),
        )
        for person in approvers.people
    )
    if quorum < step["quorum"]:
        approvers.notes.append(
            f"Only {len(approvers.people)} people can approve: the quorum is {quorum}."
        )
    names = ", ".join(str(person) for person in approvers.people) or "nobody"
    _record(
        request,
        TimelineKind.APPROVAL_REQUESTED,
        f"Approval level {_level_number(request, index)} started: asked {names} "
        f"({quorum} needed). " + " ".join(approvers.notes),
        data={"step": index, "approvers": [p.pk for p in approvers.people], "quorum": quorum},
    )
    _event(
        events.APPROVAL_REQUESTED,
        request,
        actor=None,
        approvers=[p.pk for p in approvers.people],
        quorum=quorum,
    )
    if not approvers.people:
        _record(
            request, TimelineKind.ERROR, "Nobody can approve this level: it waits for an admin."
        )
    notifications.later("approval_requested", level_id=level.pk)
    return level


def _run_action(request: AccessRequest, index: int, step: Mapping[str, Any], *, actor) -> None:
    if step["action_kind"] == ActionKind.GRANT_RESOURCE:
        _grant(request, index, step, actor=actor)
        return
    if step["action_kind"] == ActionKind.RUN_DELEGATED_FLOW:
        _run_delegated_flow(request, index, step, actor=actor)
        return
    raise ValidationError(f"Unknown action {step['action_kind']!r}.")


class _FlowNotStarted(Exception):
    """Why a delegated flow was not started: messages per input name (or 'flow')."""

    def __init__(self, errors: Mapping[str, list[str]]):
        self.errors = {name: list(messages) for name, messages in errors.items()}
        super().__init__(_errors_text(self.errors))


def _errors_text(errors: Mapping[str, list[str]]) -> str:
    """`input: message` for each problem; problems of the whole flow need no name."""
    parts = []
    for name, messages in errors.items():
        for message in messages:
            named = name in ("__all__", "flow") or message.startswith(f"{name}:")
            parts.append(message.rstrip(".") if named else f"{name}: {message.rstrip('.')}")
    return "; ".join(parts)


def _run_delegated_flow(
    request: AccessRequest, index: int, step: Mapping[str, Any], *, actor
) -> None:
    """Queue the step's delegated flow with the mapped values and move on: nothing comes back.

    Values are checked against the input types frozen in the snapshot, then again by the flow
    engine against the version that will run. Whatever goes wrong is written on the timeline
    and in the system log, and the request continues with its next step.
    """
    name = step.get("flow_name") or f"flow #{step.get('flow')}"
    try:
        inputs = _delegated_inputs(request, step)
        flow = Flow.objects.select_related("current_version").filter(pk=step.get("flow")).first()
        if flow is None:
            raise _FlowNotStarted({"flow": [f"the flow {name} no longer exists."]})
        with transaction.atomic():
            run = flows.start_delegated(
                flow=flow,
                inputs=inputs,
                trigger_ref=f"access_request:{request.pk}",
                team=request.owning_team,
            )
    except (_FlowNotStarted, ValidationError, PermissionDenied) as error:
        errors = _not_started_errors(error)
        message = _errors_text(errors)
        _record(
            request,
            TimelineKind.ERROR,
            f"Could not start the delegated flow {name}: {message}. The request goes on.",
            data={"step": index, "flow": step.get("flow"), "errors": errors},
        )
        emit(
            events.DELEGATED_FLOW_STARTED,
            actor=actor,
            target=request,
            outcome=Outcome.DENIED if isinstance(error, PermissionDenied) else Outcome.FAILURE,
            message=message[:500],
            data={
                "request_id": request.pk,
                "request_type": request.snapshot["name"],
                "flow": name,
                "flow_id": step.get("flow"),
                "flow_run": None,
                "errors": errors,
            },
        )
        return
    _record(
        request,
        TimelineKind.ACTION,
        f"Started delegated flow {flow} (run #{run.pk}).",
        actor=actor,
        data={"step": index, "flow": flow.pk, "flow_run": run.pk},
    )
    _event(
        events.DELEGATED_FLOW_STARTED,
        request,
        actor=actor,
        flow=flow.name,
        flow_id=flow.pk,
        flow_run=run.pk,
        inputs=sorted(inputs),
    )


def _not_started_errors(error: Exception) -> dict[str, list[str]]:
    if isinstance(error, _FlowNotStarted):
        return error.errors
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        return {name: list(messages) for name, messages in error.message_dict.items()}
    if isinstance(error, ValidationError):
        return {"flow": list(error.messages)}
    return {"flow": [str(error) or "permission denied."]}


def _delegated_inputs(request: AccessRequest, step: Mapping[str, Any]) -> dict[str, Any]:
    """The flow's inputs from the mapping, each converted to the type frozen at submission."""
    declared = step.get("flow_input_types") or {}
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, source in (step.get("flow_inputs") or {}).items():
        value = _source_value(request, source)
        try:
            values[name] = flow_types.coerce(declared.get(name, flow_types.ANY), value)
        except flow_types.TypeMismatch as error:
            errors[name] = [f"{name}: {error}"]
    if errors:
        raise _FlowNotStarted(errors)
    return values


def _source_value(request: AccessRequest, source: Mapping[str, Any]) -> Any:
    """The value of one mapped source: a request attribute, or an answer (None if unanswered)."""
    value = source.get("value")
    if source.get("source") == FlowInputSource.ANSWER:
        return request.answers.get(value)
    if source.get("source") == FlowInputSource.ANSWER_LABEL:
        if request.answers.get(value) is None:
            return None
        labels = request.snapshot.get("answer_labels", {})
        return labels.get(value, str(request.answers[value]))
    if value == RequestAttribute.REQUESTER_EMAIL:
        return request.requester.email
    if value == RequestAttribute.ASSIGNEE_EMAIL:
        return request.assignee.email if request.assignee_id else None
    if value == RequestAttribute.SUBJECT:
        return request.subject
    if value == RequestAttribute.REQUEST_ID:
        return request.pk
    if value == RequestAttribute.REQUEST_URL:
        return f"{settings.SITE_URL}{reverse('portal:request-detail', args=[request.pk])}"
    return None


def _grant_end(request: AccessRequest, step: Mapping[str, Any]) -> dt.datetime | None:
    if step.get("duration_days"):
        return timezone.now() + dt.timedelta(days=step["duration_days"])
    key = step.get("end_date_key")
    if key and request.answers.get(key):
        question = next(s for s in request.steps if s.get("key") == key)
        return chain.end_of_answer(question["question_type"], request.answers[key])
    return None


# How a request grants each kind of resource, through the directory's services.
_GRANTERS = {
    "group": (Group, GroupMembership, directory.group_add_member),
    "application": (Application, AppAssignment, directory.application_assign),
}


def _grant(request: AccessRequest, index: int, step: Mapping[str, Any], *, actor) -> None:
    resource = request.snapshot["resource"]
    ends_at = _grant_end(request, step)
    kind = resource["kind"]
    model, holding_model, add = _GRANTERS[kind]
    held = holding_model.objects.filter(**{f"{kind}_id": resource["id"]}, user=request.requester)
    held = held.first()
    if held is not None and (held.expires_at is None or (ends_at and held.expires_at >= ends_at)):
        # Never shorten access the person already holds, nor take it back later.
        kept = (
            f" until {timezone.localtime(held.expires_at):%Y-%m-%d %H:%M}"
            if held.expires_at
            else ""
        )
        _record(
            request,
            TimelineKind.ACTION,
            f"{request.requester} already holds {resource['name']}{kept}: left unchanged.",
            actor=actor,
            data={"step": index, "resource": resource},
        )
        return
    try:
        with transaction.atomic():
            target = model.objects.get(pk=resource["id"])
            add(
                **{kind: target},
                user=request.requester,
                actor=actor,
                source=GrantSource.REQUEST,
                expires_at=ends_at,
            )
            grant = AccessGrant.objects.create(
                request=request, user=request.requester, ends_at=ends_at, **{kind: target}
            )
    except (ValidationError, model.DoesNotExist) as error:
        message = "; ".join(getattr(error, "messages", [str(error)]))
        _record(
            request,
            TimelineKind.ERROR,
            f"Could not grant {resource['name']}: {message}",
            data={"step": index},
        )
        emit(
            events.GRANT_CREATED,
            actor=actor,
            target=request,
            outcome=Outcome.FAILURE,
            message=message[:500],
            data={"request_id": request.pk, "resource": resource, "ends_at": None},
        )
        return
    until = f" until {timezone.localtime(ends_at):%Y-%m-%d %H:%M}" if ends_at else ""
    _record(
        request,
        TimelineKind.GRANT,
        f"Granted {resource['name']} to {request.requester}{until}.",
        actor=actor,
        data={"grant": grant.pk, "resource": resource, "ends_at": ends_at},
    )
    _event(events.GRANT_CREATED, request, actor=actor, resource=resource, ends_at=ends_at)


def _create_task(request: AccessRequest, index: int, step: Mapping[str, Any]) -> Task:
    task = Task.objects.create(
        request=request,
        step_index=index,
        assignee=request.assignee,
        team_id=request.owning_team_id,
        title=step["title"],
        instructions=step.get("instructions", ""),
    )
    who = request.assignee or "the owning team (no assignee)"
    _record(
        request,
        TimelineKind.TASK_CREATED,
        f"Task for {who}: {task.title}",
        data={"task": task.pk, "step": index},
    )
    _event(events.TASK_CREATED, request, actor=None, task=task.pk, assignee=task.assignee_id)
    notifications.later("task_created", task_id=task.pk)
    return task


# --- Deciding -------------------------------------------------------------------------------


@transaction.atomic
def approval_decide(
    *, approval: Approval, actor: User, approve: bool, comment: str = ""
) -> AccessRequest:
    """Record one approver's decision; settle the level and move the request on when it can.

    The request row is locked first, so two approvers acting at once are serialised: the second
    finds the level settled and is told so.
    """
    request = _locked(approval.request)
    approval = Approval.objects.select_related("level").get(pk=approval.pk)
    if actor.pk == request.requester_id:
        raise PermissionDenied("You cannot approve your own request.")
    if approval.approver_id != actor.pk:
        raise PermissionDenied("This approval is not yours to decide.")
    level = approval.level
    if approval.status != ApprovalStatus.PENDING or level.status != LevelStatus.PENDING:
        raise StateConflict("This approval is already settled.")
    if request.status != RequestStatus.PENDING:
        raise StateConflict(f"The request is {request.get_status_display().lower()}.")
    if not approve and request.deny_reason_required and not comment.strip():
        raise ValidationError(
            {"comment": "Give a reason to deny: the requester reads it on the timeline."}
        )

    now = timezone.now()
    approval.status = ApprovalStatus.APPROVED if approve else ApprovalStatus.DENIED
    approval.comment = comment.strip()
    approval.decided_at = now
    approval.save(update_fields=["status", "comment", "decided_at"])
    verdict = "approved" if approve else "denied"
    _record(
        request,
        TimelineKind.DECISION,
        f"{actor} {verdict}" + (f": {approval.comment}" if approval.comment else "."),
        actor=actor,
        data={"approval": approval.pk, "step": level.step_index, "decision": verdict},
    )
    _event(
        events.APPROVAL_DECIDED,
        request,
        actor=actor,
        old={"status": "pending"},
        new={"status": verdict},
        comment=approval.comment,
        approval=approval.pk,
    )
    _touch(request)
    if not approve:
        _settle(level, LevelStatus.DENIED)
        _move(request, "deny", actor=actor, reason=f"denied by {actor}.")
        return request
    approved = level.approvals.filter(status=ApprovalStatus.APPROVED).count()
    if approved >= level.quorum:
        _settle(level, LevelStatus.APPROVED)
        _record(
            request,
            TimelineKind.LEVEL_SETTLED,
            f"Approval level {_level_number(request, level.step_index)} approved "
            f"({approved} of {level.quorum}).",
            data={"step": level.step_index},
        )
        request.next_step = level.step_index + 1
        _advance(request, actor=actor)
    else:
        request.save(update_fields=MOVING_FIELDS)
    return request


def _settle(level: ApprovalLevel, status: str) -> None:
    level.status = status
    level.settled_at = timezone.now()
    level.save(update_fields=["status", "settled_at"])
    level.approvals.filter(status=ApprovalStatus.PENDING).update(status=ApprovalStatus.SUPERSEDED)


# --- Requester, assignee and comments -------------------------------------------------------


@transaction.atomic
def request_cancel(*, request: AccessRequest, actor: User, reason: str = "") -> AccessRequest:
    """The requester (or an admin) withdraws an open request; access it gave is removed."""
    request = _locked(request)
    if not may_cancel_request(actor, request):
        raise PermissionDenied("Only the requester or an admin can cancel this request.")
    REQUEST_LIFECYCLE.target("cancel", request.status, subject=f"request #{request.pk}")
    for level in request.levels.filter(status=LevelStatus.PENDING):
        _settle(level, LevelStatus.CANCELED)
    request.tasks.filter(status=TaskStatus.OPEN).update(status=TaskStatus.CANCELED)
    for grant in request.grants.filter(status=GrantStatus.ACTIVE).select_related(
        "group", "application", "user"
    ):
        _revoke(grant, actor=actor, reason="the request was canceled")
    _move(request, "cancel", actor=actor, reason=reason.strip() or f"canceled by {actor}.")
    return request


@transaction.atomic
def request_comment(*, request: AccessRequest, actor: User, text: str) -> TimelineEntry:
    """Add a comment to the request's thread (requester, approvers, assignee, team, admins)."""
    if not may_comment(actor, request):
        raise PermissionDenied("You cannot comment on this request.")
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write a comment."})
    if len(text) > 5000:
        raise ValidationError({"text": "At most 5000 characters."})
    request = _locked(request)
    entry = _record(request, TimelineKind.COMMENT, text, actor=actor)
    if request.is_open:
        _touch(request)
        request.save(update_fields=["last_activity_at", "expires_at", "expiry_warnings_sent"])
    _event(events.COMMENTED, request, actor=actor, comment=entry.pk)
    notifications.later("commented", entry_id=entry.pk)
    return entry


@transaction.atomic
def task_complete(*, task: Task, actor: User, note: str = "") -> AccessRequest:
    """The assignee (any member of the team for an unassigned task, or an admin) marks the task
    done; the task and the timeline record who did."""
    request = _locked(task.request)
    task = Task.objects.get(pk=task.pk)
    if not may_complete_task(actor, task):
        mine = f"It is assigned to {task.assignee}." if task.assignee else ""
        raise PermissionDenied(f"This task is not yours. {mine}".strip())
    if task.status != TaskStatus.OPEN:
        raise StateConflict(f"This task is {task.get_status_display().lower()}.")
    task.status = TaskStatus.COMPLETED
    task.completed_at = timezone.now()
    task.completed_by = actor
    task.note = note.strip()
    task.save(update_fields=["status", "completed_at", "completed_by", "note"])
    _record(
        request,
        TimelineKind.TASK_COMPLETED,
        f"{actor} completed: {task.title}" + (f" ({task.note})" if task.note else ""),
        actor=actor,
        data={"task": task.pk},
    )
    _event(
        events.TASK_COMPLETED,
        request,
        actor=actor,
        old={"status": "open"},
        new={"status": "completed"},
        task=task.pk,
    )
    _touch(request)
    _advance(request, actor=actor)
    return request


@transaction.atomic
def delegation_create(
    *,
    approver: User,
    delegate: User,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    actor: User,
    reason: str = "",
) -> ApproverDelegation:
    """Hand `approver`'s new approvals to `delegate` between two moments."""
    if not may_manage_delegations_of(actor, approver):
        raise PermissionDenied("You can only delegate your own approvals.")
    if ends_at <= timezone.now():
        raise ValidationError({"ends_at": "The end must be in the future."})
    if not delegate.is_active:
        raise ValidationError({"delegate": "The delegate's account is not active."})
    delegation = ApproverDelegation(
        approver=approver, delegate=delegate, starts_at=starts_at, ends_at=ends_at, reason=reason
    )
    delegation.full_clean()
    # One delegation at a time per approver, or who decides would be a coin toss; the approver's
    # row lock makes two delegations created at once take turns through this check.
    User.objects.select_for_update().filter(pk=approver.pk).first()
    overlap = overlapping_delegation(approver=approver, starts_at=starts_at, ends_at=ends_at)
    if overlap is not None:
        raise ValidationError(delegation_overlap_message(overlap))
    delegation.save()
    emit(
        events.DELEGATION_CREATED,
        actor=actor,
        target=approver,
        data={
            "old": None,
            "new": {"delegate": delegate.pk, "starts_at": starts_at, "ends_at": ends_at},
        },
    )
    return delegation


def delegation_overlap_message(overlap: ApproverDelegation) -> str:
    period = (
        f"{date_format(timezone.localtime(overlap.starts_at), 'M j, Y H:i')} until "
        f"{date_format(timezone.localtime(overlap.ends_at), 'M j, Y H:i')}"
    )
    return (
        f"These approvals are already delegated to {overlap.delegate} from {period}. "
        "End that delegation first, or choose a period that does not overlap it."
    )


@transaction.atomic
def delegation_end(*, delegation: ApproverDelegation, actor: User) -> ApproverDelegation:
    """End a delegation now (levels already started keep the approvers they asked)."""
    delegation = ApproverDelegation.objects.select_for_update().get(pk=delegation.pk)
    if not may_manage_delegations_of(actor, delegation.approver):
        raise PermissionDenied("You can only end your own delegations.")
    now = timezone.now()
    if delegation.ends_at <= now:
        raise StateConflict("This delegation has already ended.")
    old = {"starts_at": delegation.starts_at, "ends_at": delegation.ends_at}
    delegation.ends_at = now
    if delegation.starts_at >= now:
        # Not started yet: it shrinks to a second that is already over, so it reads (and is)
        # ended and never hands over anything; the planned period stays in the event.
        delegation.starts_at = now - dt.timedelta(seconds=1)
    new = {"starts_at": delegation.starts_at, "ends_at": delegation.ends_at}
    changed = changed_fields(old, new)
    delegation.save(update_fields=changed)
    emit(
        events.DELEGATION_ENDED,
        actor=actor,
        target=delegation.approver,
        data=old_and_new(old, new, changed),
    )
    return delegation


# --- Scheduled work -------------------------------------------------------------------------


def process_approval_timeouts(*, now: dt.datetime | None = None) -> int:
    """Remind approvers of overdue levels; after as long again, escalate or deny."""
    now = now or timezone.now()
    handled = 0
    overdue = ApprovalLevel.objects.filter(
        status=LevelStatus.PENDING, due_at__lte=now, escalated_at__isnull=True
    ).values_list("pk", flat=True)
    for level_id in list(overdue):
        try:
            handled += _handle_timeout(level_id, now)
        except Exception:
            logger.exception("Timeout handling failed for approval level %s", level_id)
    return handled


@transaction.atomic
def _handle_timeout(level_id: int, now: dt.datetime) -> int:
    level = ApprovalLevel.objects.select_related("request").get(pk=level_id)
    request = _locked(level.request)
    level = ApprovalLevel.objects.select_for_update().get(pk=level_id)
    if level.status != LevelStatus.PENDING or request.status != RequestStatus.PENDING:
        return 0
    step = request.steps[level.step_index]
    if level.reminded_at is None:
        level.reminded_at = now
        level.save(update_fields=["reminded_at"])
        _record(request, TimelineKind.REMINDER, "Approvers reminded: the approval is overdue.")
        _event(events.APPROVAL_REMINDED, request, actor=None, level=level.pk)
        notifications.later("approval_reminder", level_id=level.pk)
        return 1
    if now < level.due_at + dt.timedelta(hours=step["timeout_hours"]):
        return 0
    if step["on_timeout"] == TimeoutAction.DENY:
        _settle(level, LevelStatus.DENIED)
        _move(request, "deny", actor=None, reason="the approval timed out.")
        return 1
    current = [a.approver for a in level.approvals.select_related("approver__manager")]
    targets = [
        person
        for person in escalation_targets(request, step, current=current)
        if person.pk not in {a.pk for a in current}
    ]
    Approval.objects.bulk_create(
        Approval(level=level, request=request, approver=person, escalated=True)
        for person in targets
    )
    level.escalated_at = now
    level.save(update_fields=["escalated_at"])
    names = ", ".join(str(p) for p in targets) or "nobody new"
    _record(
        request,
        TimelineKind.ESCALATION,
        f"Escalated after the reminder went unanswered: now also asked {names}.",
        data={"approvers": [p.pk for p in targets]},
    )
    _event(events.APPROVAL_ESCALATED, request, actor=None, approvers=[p.pk for p in targets])
    notifications.later("approval_requested", level_id=level.pk, escalated=True)
    return 1


def expire_inactive_requests(*, now: dt.datetime | None = None) -> int:
    """Warn requesters of requests about to expire, and expire those whose time has come."""
    now = now or timezone.now()
    warn_days = sorted(getattr(settings, "REQUEST_EXPIRY_WARNING_DAYS", (7, 1)), reverse=True)
    horizon = now + dt.timedelta(days=max(warn_days, default=0))
    changed = 0
    candidates = AccessRequest.objects.filter(
        status__in=(RequestStatus.PENDING, RequestStatus.APPROVED), expires_at__lte=horizon
    ).values_list("pk", flat=True)
    for request_id in list(candidates):
        try:
            changed += _expire_or_warn(request_id, now, warn_days)
        except Exception:
            logger.exception("Expiry handling failed for request %s", request_id)
    return changed


@transaction.atomic
def _expire_or_warn(request_id: int, now: dt.datetime, warn_days: list[int]) -> int:
    request = _locked(AccessRequest(pk=request_id))
    if not request.is_open or request.expires_at is None:
        return 0
    if request.expires_at <= now:
        for level in request.levels.filter(status=LevelStatus.PENDING):
            _settle(level, LevelStatus.CANCELED)
        request.tasks.filter(status=TaskStatus.OPEN).update(status=TaskStatus.CANCELED)
        days = request.snapshot["inactivity_days"]
        _move(request, "expire", actor=None, reason=f"no activity for {days} days.")
        return 1
    due = [d for d in warn_days if request.expires_at - dt.timedelta(days=d) <= now]
    pending = [d for d in due if d not in request.expiry_warnings_sent]
    if not pending:
        return 0
    request.expiry_warnings_sent = sorted({*request.expiry_warnings_sent, *due}, reverse=True)
    request.save(update_fields=["expiry_warnings_sent"])
    when = timezone.localtime(request.expires_at)
    _record(
        request,
        TimelineKind.EXPIRY_WARNING,
        f"Will expire on {when:%Y-%m-%d %H:%M} without activity.",
        data={"expires_at": request.expires_at},
    )
    notifications.later("expiry_warning", request_id=request.pk)
    return 1


def warn_expiring_grants(*, now: dt.datetime | None = None) -> int:
    """Tell holders their access ends soon (by default a day and an hour before)."""
    now = now or timezone.now()
    warnings = sorted(getattr(settings, "GRANT_END_WARNINGS", (86400, 3600)), reverse=True)
    sent = 0
    horizon = now + dt.timedelta(seconds=max(warnings))
    for grant in AccessGrant.objects.filter(
        status=GrantStatus.ACTIVE, ends_at__gt=now, ends_at__lte=horizon
    ).select_related("request", "group", "application"):
        due = [s for s in warnings if grant.ends_at - dt.timedelta(seconds=s) <= now]
        if not due or all(s in grant.warnings_sent for s in due):
            continue
        with transaction.atomic():
            grant.warnings_sent = sorted({*grant.warnings_sent, *due}, reverse=True)
            grant.save(update_fields=["warnings_sent"])
            when = timezone.localtime(grant.ends_at)
            _record(
                grant.request,
                TimelineKind.GRANT_WARNING,
                f"{grant.resource} ends for {grant.user} on {when:%Y-%m-%d %H:%M}; holder warned.",
                data={"grant": grant.pk},
            )
            notifications.later("grant_ending", grant_id=grant.pk)
        sent += 1
    return sent


def revoke_expired_access(*, now: dt.datetime | None = None) -> int:
    """Remove access whose end has passed, one transaction each; a failure is retried later."""
    now = now or timezone.now()
    due = AccessGrant.objects.filter(status=GrantStatus.ACTIVE, ends_at__lte=now).exclude(
        next_attempt_at__gt=now
    )
    revoked = 0
    for grant_id in list(due.values_list("pk", flat=True)):
        try:
            with transaction.atomic():
                grant = (
                    AccessGrant.objects.select_for_update(of=("self",))
                    .select_related("request", "user", "group", "application")
                    .get(pk=grant_id)
                )
                if grant.status == GrantStatus.ACTIVE:
                    _revoke(grant, actor=None, reason="its end date passed")
                    revoked += 1
        except Exception as error:  # recorded on the grant and retried with backoff
            _note_revocation_failure(grant_id, error, now)
    return revoked


def _revoke(grant: AccessGrant, *, actor: User | None, reason: str) -> None:
    if grant.group_id:
        removed = directory.group_remove_member(
            group=grant.group,
            user=grant.user,
            actor=actor,
            reason=f"{reason} (request #{grant.request_id})",
        )
    else:
        removed = directory.application_unassign(
            application=grant.application,
            user=grant.user,
            actor=actor,
            reason=f"{reason} (request #{grant.request_id})",
        )
    grant.status = GrantStatus.REVOKED
    grant.revoked_at = timezone.now()
    grant.save(update_fields=["status", "revoked_at"])
    already = "" if removed else " (it had already been removed in the directory)"
    _record(
        grant.request,
        TimelineKind.REVOCATION,
        f"Removed {grant.resource} from {grant.user}: {reason}{already}.",
        actor=actor,
        data={"grant": grant.pk, "reason": reason},
    )
    _event(
        events.GRANT_REVOKED,
        grant.request,
        actor=actor,
        resource=str(grant.resource),
        reason=reason,
        old={"status": GrantStatus.ACTIVE},
        new={"status": GrantStatus.REVOKED},
    )


@transaction.atomic
def _note_revocation_failure(grant_id: int, error: Exception, now: dt.datetime) -> None:
    grant = AccessGrant.objects.select_for_update().select_related("request").get(pk=grant_id)
    grant.revoke_attempts += 1
    backoff = min(2**grant.revoke_attempts, 24 * 60)
    grant.next_attempt_at = now + dt.timedelta(minutes=backoff)
    grant.last_error = str(error)[:2000]
    grant.save(update_fields=["revoke_attempts", "next_attempt_at", "last_error"])
    _record(
        grant.request,
        TimelineKind.ERROR,
        f"Removing {grant.resource} failed (attempt {grant.revoke_attempts}): {error}. "
        f"Next try in {backoff} minutes.",
        data={"grant": grant.pk},
    )
    emit(
        events.GRANT_REVOCATION_FAILED,
        target=grant.request,
        outcome=Outcome.FAILURE,
        message=str(error)[:500],
        data={
            "request_id": grant.request_id,
            "error": str(error)[:500],
            "attempts": grant.revoke_attempts,
        },
    )


# --- Configuration --------------------------------------------------------------------------


@transaction.atomic
def request_type_record_change(
    *, request_type: RequestType, actor: User | None, created: bool
) -> RequestType:
    """After an admin saved a type and its steps: check the chain, raise the version, log it.

    Requests already submitted keep the snapshot of the version they started with.
    """
    request_type = RequestType.objects.select_for_update().get(pk=request_type.pk)
    chain.validate_step_chain(request_type, request_type.steps.all())
    old_version = request_type.version
    if not created:
        request_type.version = old_version + 1
        request_type.save(update_fields=["version", "updated_at"])
    emit(
        events.REQUEST_TYPE_SAVED,
        actor=actor,
        target=request_type,
        data={
            "old": None if created else {"version": old_version},
            "new": {"version": request_type.version, "status": request_type.status},
        },
    )
    return request_type
