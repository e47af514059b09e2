"""Stored connections over the API: `/connections/`, list, read, create, change, delete.

Django's model permissions decide, as in the admin (`ModelPermissions`: view to read, add,
change, delete to write; active staff only). Secrets are write-only: `secret` is accepted on
create (required) and on change (omitted or empty keeps the stored one) and never returned;
`has_secret` says whether one is stored. Bad input answers 400 by field, nothing written.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.permissions import ModelPermissions
from apps.flows import services
from apps.flows.models import Connection, ConnectionKind
from apps.teams.models import Team


class ConnectionSerializer(serializers.ModelSerializer):
    """A stored connection; `secret` (client secret, password, token, API key or webhook URL)
    is write-only."""

    kind = serializers.ChoiceField(choices=ConnectionKind.choices)
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=4000,
        style={"input_type": "password"},
        help_text="Write-only: the client secret, password, token, API key or webhook URL.",
    )
    allowed_private_hosts = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False
    )
    notify_teams = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Team.objects.all()
    )
    has_secret = serializers.BooleanField(read_only=True)
    access_token_expires_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Connection
        fields = (
            "id",
            *services.CONNECTION_FIELDS,  # the settings the services take, in their order
            "notify_teams",
            "secret",
            "has_secret",
            "access_token_expires_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")
        # Uniqueness and the rest are the service's to check (one answer, by field).
        validators: list[Any] = []
        extra_kwargs = {"name": {"validators": []}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return attrs


class ConnectionViewSet(viewsets.ModelViewSet):
    """Stored connections (see the module's documentation)."""

    serializer_class = ConnectionSerializer
    permission_classes = [ModelPermissions]
    queryset = Connection.objects.all()
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Connection]:
        return Connection.objects.order_by("name").prefetch_related("notify_teams")

    def create(self, request: Request, *args, **kwargs) -> Response:
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        connection = services.connection_create(
            actor=request.user,
            name=values.pop("name"),
            kind=values.pop("kind"),
            secret=values.pop("secret", ""),
            notify_teams=values.pop("notify_teams", None),
            **values,
        )
        return Response(self.get_serializer(connection).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        connection = self.get_object()
        body = self.get_serializer(connection, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        saved = services.connection_update(
            connection=connection,
            actor=request.user,
            secret=values.pop("secret", None),
            notify_teams=values.pop("notify_teams", None),
            **values,
        )
        return Response(self.get_serializer(saved).data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        services.connection_delete(connection=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
