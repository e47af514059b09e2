"""Flows over the API: the flows the caller may run, starting a run, and a run's history.

- `GET /flows/`: superusers see every flow; a holder of the `flows.run_delegated_flow`
  permission sees the enabled delegated flows; anyone else an empty list. Each flow lists the
  typed inputs of its current version. Two queries, however many flows (count and page).
- `GET /flows/{id}/`: one of those flows.
- `POST /flows/{id}/run/` `{"inputs": {"name": value}}`: queue a run of the current version.
  A delegated flow is started through its one-way call (`services.start_delegated`); any other
  flow (superusers only) is queued with the trigger `api`. Answers **202**
  `{"run_id": 7, "status": "queued", "url": ".../flow-runs/7/"}`: the run executes on the task
  queue, so poll `url` for its result.
  - **400**: refused inputs, nested under `inputs` by input name, e.g.
    `{"inputs": {"count": ["count: expected a number, got 'many'."]}}` (also for a missing
    required input and for an input the flow does not declare); a flow that cannot run at all
    (disabled, never saved) is `{"flow": ["..."]}`; an unknown top-level key is refused too.
  - **403**: the caller holds neither superuser rights nor `flows.run_delegated_flow`.
  - **404**: no such flow among those the caller may see (a non-delegated flow for a
    non-superuser, a disabled delegated flow for a non-superuser).
- `GET /flow-runs/{id}/`: a run with its status, flow, version number, inputs, output, error
  and failing card, timing, and `cards`: the card-by-card history in order (empty when the flow
  kept no history). Superusers and staff holding `flows.view_flowrun` may read any run; others
  the runs they started (404 otherwise).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from apps.core.permissions import staff_may
from apps.flows import services
from apps.flows.models import CardRun, Flow, FlowKind, FlowRun, InputType, RunStatus, Trigger

RUN_PERMISSION = "flows.run_delegated_flow"


def may_use_flows(user) -> bool:
    """Whether the caller may run any flow at all through the API."""
    return user.is_active and (user.is_superuser or user.has_perm(RUN_PERMISSION))


def flows_visible_to(user) -> QuerySet[Flow]:
    """Flows the caller may see (and run): all for superusers, enabled delegated ones for
    holders of the run permission, none for others."""
    flows = Flow.objects.select_related("current_version")
    if user.is_superuser:
        return flows
    if user.has_perm(RUN_PERMISSION):
        return flows.filter(kind=FlowKind.DELEGATED, enabled=True)
    return flows.none()


def runs_visible_to(user) -> QuerySet[FlowRun]:
    """Runs the caller may read: all for superusers and staff who may view runs in the admin,
    those they started for others."""
    runs = FlowRun.objects.all()
    return runs if staff_may(user, "flows.view_flowrun") else runs.filter(started_by=user)


# --- Flows ----------------------------------------------------------------------------------


class FlowInputSerializer(serializers.Serializer):
    """One typed input of a flow."""

    name = serializers.CharField(read_only=True)
    type = serializers.ChoiceField(choices=InputType.choices, read_only=True)
    required = serializers.BooleanField(read_only=True)
    description = serializers.CharField(read_only=True)


class FlowSerializer(serializers.ModelSerializer):
    """A flow and the inputs its current version takes."""

    version = serializers.IntegerField(
        source="current_version.number", read_only=True, allow_null=True
    )
    inputs = serializers.SerializerMethodField()

    class Meta:
        model = Flow
        fields = ("id", "name", "description", "folder", "kind", "enabled", "version", "inputs")
        read_only_fields = fields

    @extend_schema_field(FlowInputSerializer(many=True))
    def get_inputs(self, flow: Flow) -> list[dict[str, Any]]:
        specs = flow.current_version.inputs if flow.current_version_id else []
        return [
            {
                "name": spec.get("name", ""),
                "type": spec.get("type", ""),
                "required": bool(spec.get("required", True)),
                "description": spec.get("description", ""),
            }
            for spec in specs
            if isinstance(spec, dict)
        ]


class RunFlowSerializer(serializers.Serializer):
    """The inputs of the run, by input name (typed as the flow declares them)."""

    inputs = serializers.DictField(
        child=serializers.JSONField(allow_null=True),
        default=dict,
        help_text="Values by input name: text, number, ISO 8601 datetime, true / false; "
        "objects and lists for helper and API flows.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {key: ['Unknown field: inputs go in "inputs".'] for key in unknown}
            )
        return attrs


class RunAcceptedSerializer(serializers.Serializer):
    """A run was queued: where to follow it."""

    run_id = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=RunStatus.choices, read_only=True)
    url = serializers.URLField(read_only=True)


def _input_errors(error: DjangoValidationError, flow: Flow, given: dict[str, Any]):
    """The service's errors with those about inputs nested under `inputs`."""
    if not hasattr(error, "error_dict"):
        return serializers.ValidationError({"detail": error.messages})
    declared = {
        spec.get("name")
        for spec in (flow.current_version.inputs if flow.current_version_id else [])
    }
    input_names = declared | set(given)
    detail: dict[str, Any] = {}
    nested: dict[str, list[str]] = {}
    for name, messages in error.message_dict.items():
        if name in input_names:
            nested[name] = messages
        else:
            detail[name] = messages
    if nested:
        detail["inputs"] = nested
    return serializers.ValidationError(detail)


class FlowViewSet(viewsets.ReadOnlyModelViewSet):
    """Flows the caller may run, and starting a run (see the module's documentation)."""

    serializer_class = FlowSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Flow]:
        if getattr(self, "swagger_fake_view", False):
            return Flow.objects.none()
        return flows_visible_to(self.request.user)

    @extend_schema(
        request=RunFlowSerializer,
        responses={
            202: RunAcceptedSerializer,
            400: OpenApiResponse(
                description='Refused inputs by name under "inputs", or {"flow": [...]} when '
                "the flow cannot run."
            ),
            403: OpenApiResponse(description="The caller may not run flows."),
            404: OpenApiResponse(description="No such flow among those the caller may run."),
        },
    )
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str | None = None) -> Response:
        user = request.user
        if not may_use_flows(user):
            raise PermissionDenied("You may not run flows.")
        flow = self.get_object()
        body = RunFlowSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        inputs = body.validated_data["inputs"]
        try:
            if flow.kind == FlowKind.DELEGATED:
                run = services.start_delegated(
                    flow=flow, inputs=inputs, trigger_ref="api", actor=user
                )
            else:  # only superusers see other kinds
                run = services.run_enqueue(
                    flow=flow, inputs=inputs, trigger=Trigger.API, trigger_ref="api", actor=user
                )
        except DjangoValidationError as error:
            raise _input_errors(error, flow, inputs) from error
        url = reverse("flow-run-detail", args=[run.pk], request=request)
        return Response(
            {"run_id": run.pk, "status": RunStatus.QUEUED, "url": url},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )


# --- Runs -----------------------------------------------------------------------------------


class FlowRefSerializer(serializers.Serializer):
    """The flow a run belongs to."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class CardRunSerializer(serializers.ModelSerializer):
    """What one card did: `path` says where it sits (e.g. `3/if1/1`), `depth` how deeply
    nested it is (0 for a top-level card)."""

    depth = serializers.SerializerMethodField()

    class Meta:
        model = CardRun
        fields = (
            "sequence",
            "path",
            "depth",
            "card_id",
            "card_type",
            "succeeded",
            "attempts",
            "inputs",
            "outputs",
            "error",
            "started_at",
            "duration_ms",
        )
        read_only_fields = fields

    def get_depth(self, card_run: CardRun) -> int:
        return card_run.path.count("/") // 2


class FlowRunSerializer(serializers.ModelSerializer):
    """A run with its card-by-card history."""

    flow = FlowRefSerializer(read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    duration_ms = serializers.FloatField(read_only=True, allow_null=True)
    cards = CardRunSerializer(source="card_runs", many=True, read_only=True)

    class Meta:
        model = FlowRun
        fields = (
            "id",
            "status",
            "flow",
            "version",
            "trigger",
            "trigger_ref",
            "inputs",
            "output",
            "error",
            "error_card",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
            "cards_executed",
            "history_saved",
            "cards",
        )
        read_only_fields = fields


class FlowRunViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`GET /flow-runs/{id}/`: a run the caller started (any run for superusers and holders of
    `flows.view_flowrun`), with its card-by-card history; 404 for anyone else."""

    serializer_class = FlowRunSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[FlowRun]:
        if getattr(self, "swagger_fake_view", False):
            return FlowRun.objects.none()
        return (
            runs_visible_to(self.request.user)
            .select_related("flow", "version")
            .prefetch_related(Prefetch("card_runs", queryset=CardRun.objects.order_by("sequence")))
        )
