"""The system log over the API: admins holding `audit.view_systemlogevent` read it (as in the
admin), nobody writes it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets

from apps.audit.models import Outcome, SystemLogEvent
from apps.audit.selectors import events_by_actor
from apps.core.api import CursorPagination, validated_query
from apps.core.permissions import ModelPermissions


class SystemLogEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = SystemLogEvent
        fields = (
            "uuid",
            "published",
            "event_type",
            "outcome",
            "actor",
            "actor_display",
            "target_type",
            "target_id",
            "target_display",
            "message",
            "data",
            "correlation_id",
            "client_ip",
        )


class NewestFirst(CursorPagination):
    """Cursor paging: as fast on page 1,000 as on page 1, and stable while events arrive."""

    ordering = ("-published", "-id")
    page_size = 100


class SystemLogFilterSerializer(serializers.Serializer):
    """Query parameters of the system log; an empty value is refused, not ignored."""

    event_type = serializers.CharField(
        required=False,
        max_length=100,
        help_text="An event type, or a prefix ending in `*`: `directory.user.*`.",
    )
    actor = serializers.CharField(required=False, max_length=255, help_text="Any case.")
    target_type = serializers.CharField(required=False, max_length=100)
    target_id = serializers.CharField(required=False, max_length=64)
    correlation_id = serializers.CharField(required=False, max_length=64)
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False)
    since = serializers.DateTimeField(required=False, help_text="From this moment (included).")
    until = serializers.DateTimeField(required=False, help_text="Before this moment.")


class SystemLogEventViewSet(viewsets.ReadOnlyModelViewSet):
    """GET /api/v1/system-log/?event_type=&actor=&target_type=&target_id=&since=&until=

    `actor` is the start of a username, e-mail or last name, a first and last name, or "system".
    """

    queryset = SystemLogEvent.objects.all()  # the model whose permissions apply
    serializer_class = SystemLogEventSerializer
    permission_classes = [ModelPermissions]
    pagination_class = NewestFirst
    lookup_field = "uuid"

    def get_queryset(self):
        events = SystemLogEvent.objects.all()
        if self.action != "list":
            return events
        filters = validated_query(SystemLogFilterSerializer, self.request)
        if "event_type" in filters:
            value = filters["event_type"]
            events = (
                events.filter(event_type__startswith=value[:-1])
                if value.endswith("*")
                else events.filter(event_type=value)
            )
        if "actor" in filters:
            events = events_by_actor(events, filters["actor"])
        for field in ("target_type", "target_id", "correlation_id", "outcome"):
            if field in filters:
                events = events.filter(**{field: filters[field]})
        if "since" in filters:
            events = events.filter(published__gte=filters["since"])
        if "until" in filters:
            events = events.filter(published__lt=filters["until"])
        return events

    @extend_schema(parameters=[SystemLogFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
