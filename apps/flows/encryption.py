"""Stored connections' secrets at rest: Fernet tokens (cryptography's MultiFernet).

`CONNECTIONS_ENCRYPTION_KEYS` lists Fernet keys, comma-separated: the first encrypts, every
one decrypts. To rotate, put a new key first, run `manage.py rotate_connection_keys` (which
re-encrypts every secret under it), then drop the old key. With no key configured, development
(DEBUG) derives one from SECRET_KEY; anywhere else saving or reading a secret is refused.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class EncryptionNotConfigured(ImproperlyConfigured):
    """No key to encrypt with (CONNECTIONS_ENCRYPTION_KEYS unset outside development)."""


class SecretUnreadable(Exception):
    """A stored secret none of the configured keys decrypts (a key was dropped too early)."""


def _configured_keys() -> tuple[str, ...]:
    configured = getattr(settings, "CONNECTIONS_ENCRYPTION_KEYS", None) or ()
    if isinstance(configured, str):
        configured = configured.split(",")
    keys = tuple(key.strip() for key in configured if key and key.strip())
    if keys:
        return keys
    if settings.DEBUG:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"gatehouse connections"
        ).derive(settings.SECRET_KEY.encode())
        return (base64.urlsafe_b64encode(derived).decode(),)
    raise EncryptionNotConfigured(
        "CONNECTIONS_ENCRYPTION_KEYS is not set: stored connections need a key to encrypt "
        "their secrets (see .env.example)."
    )


@lru_cache(maxsize=4)
def _box_for(keys: tuple[str, ...]) -> MultiFernet:
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            raise EncryptionNotConfigured(
                f"CONNECTIONS_ENCRYPTION_KEYS: key {position} is not a Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from None
    return MultiFernet(fernets)


def _box() -> MultiFernet:
    return _box_for(_configured_keys())


def encrypt(plain: str) -> str:
    """`plain` encrypted under the first key ("" stays "")."""
    if not plain:
        return ""
    return _box().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """The secret in `token` ("" stays ""); SecretUnreadable when no key opens it."""
    if not token:
        return ""
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "a stored secret could not be decrypted with CONNECTIONS_ENCRYPTION_KEYS"
        ) from None


def rotate(token: str) -> str:
    """`token` re-encrypted under the first key ("" stays "")."""
    if not token:
        return ""
    try:
        return _box().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "a stored secret could not be decrypted with CONNECTIONS_ENCRYPTION_KEYS"
        ) from None
