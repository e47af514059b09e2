"""Access requests over the API: the catalog, requests, approvals and tasks, for the caller.

Reads go through the selectors, so the API shows what the portal shows: anything the caller may
not see answers 404, never 403. Writes call the services and nothing else.

Errors, the same on every endpoint:

- 400: the body (or a query parameter) is refused; the answer names each field:
  `{"comment": ["..."]}`. Answers to questions are nested under `answers`:
  `{"answers": {"building": ["..."]}}`.
- 403: the caller can see the object but may not do this (cancel someone else's request,
  decide an approval on their own request, complete a task that is not theirs, comment on a
  request they see only through the admin's view permission). Who may is decided in
  `selectors` (`may_cancel_request`, `may_comment`, `may_complete_task`), which the services
  and the portal ask too.
- 404: no such object, or the caller may not see it.
- 409: the object's state no longer allows it (an approval already settled, a task already
  done, a request already finished): `{"detail": "..."}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from apps.access_requests import chain, selectors, services
from apps.access_requests.models import (
    AccessRequest,
    Approval,
    ApprovalStatus,
    ConditionOperator,
    QuestionType,
    RequestStatus,
    RequestType,
    Step,
    StepKind,
    Task,
    TaskStatus,
    TimelineEntry,
)
from apps.catalog.models import ConfigListItem
from apps.core.api import validated_query
from apps.core.idempotency import OPENAPI_PARAMETER as IDEMPOTENCY_KEY
from apps.core.idempotency import idempotent

# --- Errors ---------------------------------------------------------------------------------


# --- Shared pieces of output ----------------------------------------------------------------


class UserSummarySerializer(serializers.Serializer):
    """A person as the API shows them next to a request."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="__str__", read_only=True)
    email = serializers.EmailField(read_only=True)


class NamedRefSerializer(serializers.Serializer):
    """An object named by its id and name (a request type, a team)."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class RequestRefSerializer(serializers.ModelSerializer):
    """The request an approval or a task belongs to."""

    request_type = NamedRefSerializer(read_only=True)
    requester = UserSummarySerializer(read_only=True)

    class Meta:
        model = AccessRequest
        fields = ("id", "subject", "status", "request_type", "requester", "created_at")
        read_only_fields = fields


# --- Request types: the catalog -------------------------------------------------------------


class ConditionSerializer(serializers.Serializer):
    """Ask the question only when an earlier answer satisfies this."""

    key = serializers.CharField(read_only=True)
    operator = serializers.ChoiceField(choices=ConditionOperator.choices, read_only=True)
    value = serializers.CharField(read_only=True)


class ChoiceSerializer(serializers.Serializer):
    """One choice offered by an options or configuration-list question."""

    value = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)


class QuestionSerializer(serializers.Serializer):
    """A question of a request type; `choices` only for options and list questions."""

    key = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)
    help_text = serializers.CharField(read_only=True)
    type = serializers.ChoiceField(choices=QuestionType.choices, read_only=True)
    required = serializers.BooleanField(read_only=True)
    future_only = serializers.BooleanField(
        read_only=True, help_text="A date question that refuses dates in the past."
    )
    condition = ConditionSerializer(read_only=True, allow_null=True)
    choices = ChoiceSerializer(many=True, read_only=True, allow_null=True)


class RequestTypeResourceSerializer(serializers.Serializer):
    """The group, application or list item a request type is about."""

    kind = serializers.ChoiceField(choices=["group", "application", "item"], read_only=True)
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


def _type_snapshot(request_type: RequestType) -> dict[str, Any]:
    """The type's snapshot, built once per instance from its prefetched question steps."""
    if not hasattr(request_type, "_api_snapshot"):
        request_type._api_snapshot = chain.snapshot(request_type, request_type.steps.all())
    return request_type._api_snapshot


def _list_choices(request_type: RequestType) -> dict[int, list[dict[str, str]]]:
    """Active items of each configuration list the type's questions use (prefetched)."""
    return {
        step.config_list_id: [
            {"value": item.value, "label": item.label or item.value}
            for item in step.config_list.active_items
        ]
        for step in request_type.steps.all()
        if step.config_list_id
    }


class RequestTypeSerializer(serializers.ModelSerializer):
    """A request type offered to the caller, with the questions to answer when submitting."""

    owning_team = NamedRefSerializer(read_only=True)
    resource = serializers.SerializerMethodField()
    questions = serializers.SerializerMethodField()

    class Meta:
        model = RequestType
        fields = ("id", "name", "description", "version", "owning_team", "resource", "questions")
        read_only_fields = fields

    @extend_schema_field(RequestTypeResourceSerializer(allow_null=True))
    def get_resource(self, request_type: RequestType) -> dict[str, Any] | None:
        return _type_snapshot(request_type)["resource"]

    @extend_schema_field(QuestionSerializer(many=True))
    def get_questions(self, request_type: RequestType) -> list[dict[str, Any]]:
        list_choices = _list_choices(request_type)
        questions = []
        for step in _type_snapshot(request_type)["steps"]:
            if step["kind"] != StepKind.QUESTION:
                continue
            choices = None
            if step["question_type"] == QuestionType.OPTIONS:
                choices = step["choices"]
            elif step["question_type"] == QuestionType.LIST_CHOICE:
                choices = list_choices.get(step["config_list"], [])
            questions.append(
                {
                    "key": step["key"],
                    "label": step["label"],
                    "help_text": step["help_text"],
                    "type": step["question_type"],
                    "required": step["required"],
                    "future_only": step.get("future_only", False),
                    "condition": step["condition"],
                    "choices": choices,
                }
            )
        return QuestionSerializer(questions, many=True).data


class RequestTypeViewSet(viewsets.ReadOnlyModelViewSet):
    """GET /request-types/: the types offered to the caller, each with its questions.

    For `options` questions `choices` lists the options; for `list_choice` questions, the active
    items of the configuration list; for other questions it is null. The cost is a constant
    number of queries, however many types, questions and items.
    """

    serializer_class = RequestTypeSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[RequestType]:
        if getattr(self, "swagger_fake_view", False):
            return RequestType.objects.none()
        questions = Step.objects.filter(kind=StepKind.QUESTION).select_related("config_list")
        active_items = ConfigListItem.objects.filter(active=True)
        return (
            selectors.catalog_for(self.request.user)
            .select_related("resource_group", "resource_application", "resource_item")
            .prefetch_related(
                Prefetch("steps", queryset=questions),
                Prefetch(
                    "steps__config_list__items", queryset=active_items, to_attr="active_items"
                ),
            )
        )


# --- Requests -------------------------------------------------------------------------------


class TimelineEntrySerializer(serializers.ModelSerializer):
    """A line of a request's history."""

    actor = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = TimelineEntry
        fields = ("id", "created_at", "actor", "kind", "message", "data")
        read_only_fields = fields


class PendingApprovalSerializer(serializers.ModelSerializer):
    """Someone the request waits for."""

    approver = UserSummarySerializer(read_only=True)
    delegated_from = UserSummarySerializer(read_only=True, allow_null=True)
    step = serializers.IntegerField(source="level.step_index", read_only=True)

    class Meta:
        model = Approval
        fields = ("id", "approver", "delegated_from", "escalated", "step", "created_at")
        read_only_fields = fields


class OpenTaskSerializer(serializers.ModelSerializer):
    """Work the request waits for."""

    assignee = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Task
        fields = ("id", "title", "status", "assignee", "created_at")
        read_only_fields = fields


class RequestSerializer(serializers.ModelSerializer):
    """A request in a list."""

    request_type = NamedRefSerializer(read_only=True)
    requester = UserSummarySerializer(read_only=True)
    assignee = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = AccessRequest
        fields = (
            "id",
            "subject",
            "status",
            "request_type",
            "type_version",
            "requester",
            "assignee",
            "created_at",
            "last_activity_at",
            "finished_at",
        )
        read_only_fields = fields


class RequestDetailSerializer(RequestSerializer):
    """A request with its answers, its timeline and what it waits for."""

    timeline = TimelineEntrySerializer(many=True, read_only=True)
    pending_approvals = PendingApprovalSerializer(many=True, read_only=True)
    open_tasks = OpenTaskSerializer(many=True, read_only=True)

    class Meta(RequestSerializer.Meta):
        fields = (
            *RequestSerializer.Meta.fields,
            "expires_at",
            "answers",
            "timeline",
            "pending_approvals",
            "open_tasks",
        )
        read_only_fields = fields


class OfferedRequestTypeField(serializers.PrimaryKeyRelatedField):
    """A request type id, accepted only when the type is offered to the caller."""

    default_error_messages = {
        "does_not_exist": "This request type is not offered to you.",
        "incorrect_type": "Expected the id of a request type.",
    }

    def get_queryset(self) -> QuerySet[RequestType]:
        return selectors.catalog_for(self.context["request"].user)


class RequestSubmitSerializer(serializers.Serializer):
    """What a request is made of: the type and the answers to its questions, by key."""

    request_type = OfferedRequestTypeField(queryset=RequestType.objects.all())
    answers = serializers.DictField(child=serializers.JSONField(), default=dict)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Form posts name answers as `answers.<key>`: only the part before the dot is a field.
        unknown = sorted({k for k in self.initial_data if k.partition(".")[0] not in self.fields})
        if unknown:
            raise serializers.ValidationError(
                {key: ['Unknown field: answers go in "answers".'] for key in unknown}
            )
        return attrs


class RequestCancelSerializer(serializers.Serializer):
    """Why the request is withdrawn (optional)."""

    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class RequestCommentSerializer(serializers.Serializer):
    """A comment for the request's thread."""

    # Blank and over-long texts are refused by the service, with its own messages.
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)


class RequestFilterSerializer(serializers.Serializer):
    """Query parameters of the request list."""

    scope = serializers.ChoiceField(
        choices=[("mine", "My own requests"), ("visible", "Every request I may see")],
        default="mine",
        help_text="mine (default): the caller's own requests; visible: every request they may "
        "see (to approve, assigned, their team's; everything for admins).",
    )
    status = serializers.ChoiceField(choices=RequestStatus.choices, required=False)
    request_type = serializers.IntegerField(required=False, min_value=1)


def _answer_errors(
    error: DjangoValidationError, request_type: RequestType, answers: Mapping[str, Any]
) -> serializers.ValidationError:
    """The service's errors with those about answers nested under `answers`."""
    question_keys = set(
        request_type.steps.filter(kind=StepKind.QUESTION).values_list("key", flat=True)
    )
    answer_keys = question_keys | set(answers)
    messages = error.message_dict
    detail: dict[str, Any] = {k: v for k, v in messages.items() if k not in answer_keys}
    nested = {k: v for k, v in messages.items() if k in answer_keys}
    if nested:
        detail["answers"] = nested
    return serializers.ValidationError(detail)


class RequestViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Access requests.

    - `GET /requests/`: the caller's own requests; `?scope=visible` for every request they may
      see; filters `?status=` and `?request_type=`; newest first, paginated.
    - `GET /requests/{id}/`: one visible request with its answers, timeline, pending approvals
      and open tasks.
    - `POST /requests/` `{"request_type": id, "answers": {key: value}}`: submit; 201 with the
      request. A type that is not offered to the caller (unknown, inactive, or restricted to an
      audience they are not in) is a 400 on `request_type`, the same for each of these, so the
      answer tells nothing about types the caller cannot see. Refused answers are a 400 naming
      each question under `answers`: `{"answers": {"building": ["..."]}}` (also for a key the
      type has no question for); any other top-level key is refused too. Nothing is written.
      With an `Idempotency-Key` header, sending the same POST again answers the first answer
      again instead of filing a second request (see `apps.core.idempotency`).
    - `POST /requests/{id}/cancel/` `{"reason": ""}`: the requester or an admin withdraws it
      (403 for others who can see it, 409 when it is already finished).
    - `POST /requests/{id}/comments/` `{"text": "..."}`: 201 with the new timeline entry (403
      for admins holding only the view permission: reading is not taking part).
    """

    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        return RequestSerializer if self.action == "list" else RequestDetailSerializer

    def get_queryset(self) -> QuerySet[AccessRequest]:
        if getattr(self, "swagger_fake_view", False):
            return AccessRequest.objects.none()
        user = self.request.user
        if self.action == "list":
            filters = validated_query(RequestFilterSerializer, self.request)
            if filters["scope"] == "visible":
                requests = selectors.requests_visible_to(user)
            else:
                requests = selectors.requests_of(user)
            if "status" in filters:
                requests = requests.filter(status=filters["status"])
            if "request_type" in filters:
                requests = requests.filter(request_type_id=filters["request_type"])
            return requests
        visible = selectors.requests_visible_to(user)
        return self._with_details(visible) if self.action == "retrieve" else visible

    @staticmethod
    def _with_details(requests: QuerySet[AccessRequest]) -> QuerySet[AccessRequest]:
        return requests.prefetch_related(
            Prefetch("timeline", queryset=TimelineEntry.objects.select_related("actor")),
            Prefetch(
                "approvals",
                queryset=Approval.objects.filter(status=ApprovalStatus.PENDING)
                .select_related("approver", "delegated_from", "level")
                .order_by("level__step_index", "id"),
                to_attr="pending_approvals",
            ),
            Prefetch(
                "tasks",
                queryset=Task.objects.filter(status=TaskStatus.OPEN)
                .select_related("assignee")
                .order_by("step_index", "id"),
                to_attr="open_tasks",
            ),
        )

    def _detail(self, request_id: int) -> dict[str, Any]:
        fresh = self._with_details(selectors.requests_visible_to(self.request.user)).get(
            pk=request_id
        )
        return RequestDetailSerializer(fresh, context=self.get_serializer_context()).data

    @extend_schema(parameters=[RequestFilterSerializer])
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=RequestSubmitSerializer,
        responses={201: RequestDetailSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def create(self, request: Request, *args, **kwargs) -> Response:
        envelope = RequestSubmitSerializer(data=request.data, context=self.get_serializer_context())
        envelope.is_valid(raise_exception=True)
        request_type = envelope.validated_data["request_type"]
        answers = envelope.validated_data["answers"]
        try:
            created = services.request_submit(
                request_type=request_type, requester=request.user, answers=answers
            )
        except DjangoValidationError as error:
            if not hasattr(error, "error_dict"):
                raise
            raise _answer_errors(error, request_type, answers) from error
        location = reverse("access-request-detail", args=[created.pk], request=request)
        return Response(
            self._detail(created.pk), status=status.HTTP_201_CREATED, headers={"Location": location}
        )

    @extend_schema(request=RequestCancelSerializer, responses=RequestDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        access_request = self.get_object()
        body = RequestCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # A finished request raises IllegalTransition, which the exception handler makes a 409.
        services.request_cancel(
            request=access_request, actor=request.user, reason=body.validated_data["reason"]
        )
        return Response(self._detail(access_request.pk))

    @extend_schema(
        request=RequestCommentSerializer,
        responses={201: TimelineEntrySerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def comments(self, request: Request, pk: str | None = None) -> Response:
        access_request = self.get_object()
        body = RequestCommentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        entry = services.request_comment(
            request=access_request, actor=request.user, text=body.validated_data["text"]
        )
        return Response(TimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


# --- Approvals ------------------------------------------------------------------------------


class ApprovalSerializer(serializers.ModelSerializer):
    """One approval asked of the caller, with the request it is about."""

    request = RequestRefSerializer(read_only=True)
    step = serializers.IntegerField(source="level.step_index", read_only=True)
    quorum = serializers.IntegerField(source="level.quorum", read_only=True)
    delegated_from = UserSummarySerializer(read_only=True, allow_null=True)
    deny_reason_required = serializers.BooleanField(
        source="request.deny_reason_required",
        read_only=True,
        help_text="Whether denying needs a comment saying why.",
    )

    class Meta:
        model = Approval
        fields = (
            "id",
            "status",
            "request",
            "step",
            "quorum",
            "deny_reason_required",
            "delegated_from",
            "escalated",
            "comment",
            "created_at",
            "decided_at",
        )
        read_only_fields = fields


class ApprovalFilterSerializer(serializers.Serializer):
    """Query parameters of the approval list."""

    status = serializers.ChoiceField(
        choices=[*ApprovalStatus.values, "all"],
        default=ApprovalStatus.PENDING,
        help_text="pending (default), approved, denied, superseded, or all.",
    )


class ApprovalDecisionSerializer(serializers.Serializer):
    """The comment that goes with the decision: optional to approve; to deny, the reason the
    requester reads (required unless the request type lets approvers deny without one)."""

    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class ApprovalViewSet(viewsets.ReadOnlyModelViewSet):
    """The caller's approvals; someone else's answers 404.

    - `GET /approvals/?status=pending` (default; or approved, denied, superseded, all).
    - `POST /approvals/{id}/approve/` and `/deny/` `{"comment": ""}`: 200 with the approval.
      403 on an approval of the caller's own request; 409 when the approval or its request is
      already settled (deciding twice, or after another approver settled the level); 400 on
      `comment` when a denial gives no reason and the request type requires one (the default).
    """

    serializer_class = ApprovalSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Approval]:
        if getattr(self, "swagger_fake_view", False):
            return Approval.objects.none()
        wanted = None
        if self.action == "list":
            wanted = validated_query(ApprovalFilterSerializer, self.request)["status"]
        status_filter = None if wanted in (None, "all") else wanted
        return selectors.approvals_for(self.request.user, status=status_filter)

    @extend_schema(parameters=[ApprovalFilterSerializer])
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    def _decide(self, request: Request, *, approve: bool) -> Response:
        approval = self.get_object()
        body = ApprovalDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.approval_decide(
            approval=approval,
            actor=request.user,
            approve=approve,
            comment=body.validated_data["comment"],
        )
        return Response(ApprovalSerializer(self.get_queryset().get(pk=approval.pk)).data)

    @extend_schema(request=ApprovalDecisionSerializer, responses=ApprovalSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        return self._decide(request, approve=True)

    @extend_schema(request=ApprovalDecisionSerializer, responses=ApprovalSerializer)
    @action(detail=True, methods=["post"])
    def deny(self, request: Request, pk: str | None = None) -> Response:
        return self._decide(request, approve=False)


# --- Tasks ----------------------------------------------------------------------------------


class TaskSerializer(serializers.ModelSerializer):
    """Manual work on a request."""

    request = RequestRefSerializer(read_only=True)
    assignee = UserSummarySerializer(read_only=True, allow_null=True)
    completed_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Task
        fields = (
            "id",
            "title",
            "instructions",
            "status",
            "request",
            "assignee",
            "created_at",
            "completed_at",
            "completed_by",
            "note",
        )
        read_only_fields = fields


class TaskFilterSerializer(serializers.Serializer):
    """Query parameters of the task list."""

    status = serializers.ChoiceField(
        choices=[*TaskStatus.values, "all"],
        default=TaskStatus.OPEN,
        help_text="open (default), completed, canceled, or all.",
    )


class TaskCompleteSerializer(serializers.Serializer):
    """An optional note on what was done."""

    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class TaskViewSet(viewsets.ReadOnlyModelViewSet):
    """Tasks.

    - `GET /tasks/?status=open` (default; or completed, canceled, all): the caller's work,
      assigned to them or unassigned in a team they belong to.
    - `GET /tasks/{id}/` and `POST /tasks/{id}/complete/` `{"note": ""}` reach any task of a
      request the caller may see (404 otherwise); completing is for the assignee (for an
      unassigned task, any member of its team) or an admin who may change requests (403 for
      others, colleagues included: `selectors.may_complete_task`), 409 when the task is no
      longer open. `completed_by` names who completed it.
      Completing answers 200 with the task.
    """

    serializer_class = TaskSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Task]:
        if getattr(self, "swagger_fake_view", False):
            return Task.objects.none()
        user = self.request.user
        if self.action == "list":
            wanted = validated_query(TaskFilterSerializer, self.request)["status"]
            tasks = selectors.tasks_for(user, status=None if wanted == "all" else wanted)
            return tasks.select_related("completed_by")
        visible = selectors.requests_visible_to(user).values("pk")
        return Task.objects.filter(request__in=visible).select_related(
            "request", "request__requester", "request__request_type", "assignee", "completed_by"
        )

    @extend_schema(parameters=[TaskFilterSerializer])
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=TaskCompleteSerializer, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        body = TaskCompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.task_complete(task=task, actor=request.user, note=body.validated_data["note"])
        return Response(TaskSerializer(self.get_queryset().get(pk=task.pk)).data)
