"""The directory over the API, for admins: each call needs the model permission the admin asks
for the same thing (view to read, change to edit or move the lifecycle, add / delete of
memberships and assignments to grant or remove them); without it, 403. Writes call the
directory services, which refuse a change to a superuser by anyone but a superuser (403)."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Count
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from apps.core.api import validated_query
from apps.core.permissions import ModelPermissions
from apps.directory import services
from apps.directory.models import Application, Group, User, UserStatus

# The largest id PostgreSQL's bigint holds: a larger one is a 400, not a database error.
MAX_ID = 2**63 - 1


class UserSerializer(serializers.ModelSerializer):
    manager = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = User
        fields = (
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "title",
            "department",
            "employee_number",
            "manager",
            "status",
            "status_changed_at",
            "profile",
            "last_login",
            "date_joined",
        )
        read_only_fields = fields


class TextField(serializers.CharField):
    """Text only: DRF's CharField would also take a number and turn it into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class EmailTextField(TextField, serializers.EmailField):
    pass


class ProfileChangeSerializer(serializers.Serializer):
    """The fields to change, each optional: standard profile fields, and custom attributes by
    name (typed as the admin defines them; the service checks each value)."""

    username = TextField(required=False, max_length=150)
    email = EmailTextField(required=False, max_length=254)
    first_name = TextField(required=False, allow_blank=True, max_length=150)
    last_name = TextField(required=False, allow_blank=True, max_length=150)
    title = TextField(required=False, allow_blank=True, max_length=150)
    department = TextField(required=False, allow_blank=True, max_length=150)
    employee_number = TextField(required=False, allow_blank=True, max_length=64)
    manager = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID, help_text="null: none."
    )

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"detail": "Send an object of fields to change."})
        standard = super().to_internal_value({k: v for k, v in data.items() if k in self.fields})
        custom = {key: value for key, value in data.items() if key not in self.fields}
        return {**standard, **custom}


class UserFilterSerializer(serializers.Serializer):
    """Query parameters of the people list; an empty value is refused, not ignored."""

    status = serializers.ChoiceField(choices=UserStatus.choices, required=False)
    email = serializers.CharField(required=False, max_length=254, help_text="Exact, any case.")
    username = serializers.CharField(required=False, max_length=150, help_text="Exact, any case.")
    manager = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="The manager's id."
    )


class UserViewSet(viewsets.ReadOnlyModelViewSet):
    """People. `PATCH` changes the profile; `POST .../suspend/` (and the other verbs) move the
    lifecycle."""

    serializer_class = UserSerializer
    permission_classes = [ModelPermissions]
    action_permissions = {"lifecycle": ("change",)}
    search_fields = ("username", "email")

    def get_queryset(self):
        users = User.objects.order_by("username")
        if self.action != "list":
            return users
        filters = validated_query(UserFilterSerializer, self.request)
        if "status" in filters:
            users = users.filter(status=filters["status"])
        if "email" in filters:
            users = users.filter(email__lower=filters["email"].lower())
        if "username" in filters:
            users = users.filter(username__lower=filters["username"].lower())
        if "manager" in filters:
            users = users.filter(manager_id=filters["manager"])
        return users

    @extend_schema(parameters=[UserFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    # A profile change is JSON: a form cannot say null or a number, and an unreadable form
    # body would parse as an empty change.
    parser_classes = [JSONParser]

    @extend_schema(request=ProfileChangeSerializer, responses=UserSerializer)
    def partial_update(self, request, pk=None):
        user = self.get_object()
        serializer = ProfileChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_update_profile(
            user=user, actor=request.user, changes=serializer.validated_data
        )
        return Response(UserSerializer(user).data)

    @extend_schema(
        request=None,
        responses=UserSerializer,
        parameters=[
            OpenApiParameter(
                "verb",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=sorted(services.LIFECYCLE_SERVICES),
            )
        ],
    )
    @action(detail=True, methods=["post"], url_path=r"lifecycle/(?P<verb>[a-z]+)")
    def lifecycle(self, request, pk=None, verb=None):
        """POST /users/{id}/lifecycle/{activate|suspend|unsuspend|deactivate|reactivate}/"""
        service = services.LIFECYCLE_SERVICES.get(verb)
        if service is None:
            return Response(
                {"detail": f"Unknown lifecycle verb {verb!r}."}, status=status.HTTP_404_NOT_FOUND
            )
        user = service(user=self.get_object(), actor=request.user)
        return Response(UserSerializer(user).data)


class GrantSerializer(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    source = serializers.CharField(default="manual")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ResourceSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    holder_count = serializers.IntegerField(read_only=True)


class _ResourceViewSet(viewsets.ReadOnlyModelViewSet):
    """Groups or applications; `POST .../holders/` grants, `DELETE .../holders/{user}/` removes."""

    serializer_class = ResourceSerializer
    permission_classes = [ModelPermissions]

    def get_queryset(self):
        return self.model.objects.annotate(holder_count=Count(self.holders)).order_by("name")

    @extend_schema(request=GrantSerializer, responses={204: None})
    @action(detail=True, methods=["post"], url_path="holders")
    def add_holder(self, request, pk=None):
        resource = self.get_object()
        grant = GrantSerializer(data=request.data)
        grant.is_valid(raise_exception=True)
        self.add(**{self.kind: resource}, actor=request.user, **grant.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[OpenApiParameter("user_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={204: None},
    )
    @action(detail=True, methods=["delete"], url_path=r"holders/(?P<user_id>\d+)")
    def remove_holder(self, request, pk=None, user_id=None):
        resource = self.get_object()
        user = get_object_or_404(User, pk=user_id)
        if not self.remove(**{self.kind: resource}, user=user, actor=request.user):
            return Response({"detail": "Not a holder."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupViewSet(_ResourceViewSet):
    model, holders, kind = Group, "memberships", "group"
    action_permissions = {
        "add_holder": ("directory.add_groupmembership",),
        "remove_holder": ("directory.delete_groupmembership",),
    }
    add = staticmethod(services.group_add_member)
    remove = staticmethod(services.group_remove_member)


class ApplicationViewSet(_ResourceViewSet):
    model, holders, kind = Application, "assignments", "application"
    action_permissions = {
        "add_holder": ("directory.add_appassignment",),
        "remove_holder": ("directory.delete_appassignment",),
    }
    add = staticmethod(services.application_assign)
    remove = staticmethod(services.application_unassign)
