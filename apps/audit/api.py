"""The system log over the API: admins holding `audit.view_systemlogevent` read it (as in the
admin), nobody writes it."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination

from apps.audit.models import SystemLogEvent
from apps.audit.selectors import events_by_actor
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
        params = self.request.query_params
        if params.get("event_type"):
            value = params["event_type"]
            events = (
                events.filter(event_type__startswith=value[:-1])
                if value.endswith("*")
                else events.filter(event_type=value)
            )
        if params.get("actor"):
            events = events_by_actor(events, params["actor"])
        for field in ("target_type", "target_id", "correlation_id", "outcome"):
            if params.get(field):
                events = events.filter(**{field: params[field]})
        for name, lookup in (("since", "published__gte"), ("until", "published__lt")):
            if params.get(name):
                try:
                    moment = parse_datetime(params[name])
                except ValueError:  # well-formed but impossible, e.g. month 13
                    moment = None
                if moment is None:
                    raise ValidationError({name: "Expected an ISO 8601 date and time."})
                events = events.filter(**{lookup: moment})
        return events
