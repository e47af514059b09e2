"""`Authorization: Token <key>` for the API, checked against the hashed ApiToken rows."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from apps.core.hashing import hash_secret
from apps.directory import services
from apps.directory.models import ApiToken


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's header format; the key is looked up by its hash, and must be unrevoked, unexpired."""

    keyword = "Token"
    model = ApiToken

    def authenticate_credentials(self, key):
        token = (
            ApiToken.objects.usable()
            .select_related("user")
            .filter(key_hash=hash_secret(key))
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        services.api_token_record_use(token=token)
        return (token.user, token)
