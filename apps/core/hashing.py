"""What is stored of a random secret: API tokens, API endpoints' client tokens, ingest secrets."""

import hashlib


def hash_secret(secret: str) -> str:
    """Its SHA-256: the secret is long and random, so it needs no salt and no slow hash."""
    return hashlib.sha256(secret.encode()).hexdigest()
