"""API token sign-in, and each person's own tokens: list them, revoke one.

`POST /api/v1/auth/token/` checks a username (or e-mail) and password through Django's
authenticate(), which django-axes throttles: a locked-out client gets 429 with a reason.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.directory import services
from apps.directory.models import ApiToken

DEFAULT_TOKEN_NAME = "API sign-in"


class TokenSignInSerializer(serializers.Serializer):
    username = serializers.CharField(help_text="Username or e-mail, whatever the case.")
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    name = serializers.CharField(
        max_length=100, required=False, help_text="What the token is for, shown in the lists."
    )
    expires_in_days = serializers.IntegerField(
        required=False, help_text="Lifetime in days (default and maximum set by the operator)."
    )

    def validate_expires_in_days(self, value):
        try:
            services.api_token_lifetime(value)
        except ValidationError as error:
            raise serializers.ValidationError(error.message_dict["expires_in_days"]) from None
        return value


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The secret: shown this once, never again.")
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    expires_at = serializers.DateTimeField()


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ("id", "name", "prefix", "created_at", "expires_at", "last_used_at")
        read_only_fields = fields


LOCKED_OUT = OpenApiResponse(
    inline_serializer(
        "SignInLockedOut",
        {
            "detail": serializers.CharField(),
            "reason": serializers.CharField(),
            "retry_after": serializers.IntegerField(help_text="seconds"),
        },
    ),
    description="Too many failed sign-ins for the account or from the address "
    "(reason `too_many_failed_sign_ins`); the `Retry-After` header says how long to wait.",
)


class TokenSignInView(APIView):
    """Exchange a username (or e-mail) and password for a new API token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    serializer_class = TokenSignInSerializer

    @extend_schema(
        request=TokenSignInSerializer,
        responses={200: IssuedTokenSerializer, 400: OpenApiResponse(), 429: LOCKED_OUT},
    )
    def post(self, request):
        form = TokenSignInSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        # Django's own request, not DRF's wrapper: django-axes marks a lockout on it and its
        # middleware turns that mark into the 429 answer.
        user = authenticate(
            request._request,
            username=form.validated_data["username"],
            password=form.validated_data["password"],
        )
        if user is None:
            raise serializers.ValidationError(
                {"non_field_errors": ["Unable to log in with provided credentials."]}
            )
        issued = services.api_token_issue(
            user=user,
            actor=user,
            name=form.validated_data.get("name") or DEFAULT_TOKEN_NAME,
            expires_in_days=form.validated_data.get("expires_in_days"),
        )
        return Response(
            {
                "token": issued.key,
                "id": issued.token.pk,
                "name": issued.token.name,
                "prefix": issued.token.prefix,
                "expires_at": issued.token.expires_at,
            }
        )


class OwnApiTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's usable tokens (never their secrets); `DELETE .../{id}/` revokes one."""

    serializer_class = ApiTokenSerializer
    permission_classes = [IsAuthenticated]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return ApiToken.objects.usable().filter(user=self.request.user)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        token = get_object_or_404(self.get_queryset(), pk=pk)
        services.api_token_revoke(token=token, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
