"""Settings for the test suite: fast hashing, in-memory e-mail, the queue run in-process.

Tests that are about the queue itself start a real cluster and override `sync` for their tasks.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

from .base import *

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
if env.str("TEST_EMAIL_URL", default=""):
    # A real queue worker started by a test sends to that test's SMTP server (tests/mail.py).
    vars().update(env.email_url("TEST_EMAIL_URL"))
# Tasks run inline, except in the tests that start a real cluster (tests/queue.py).
Q_CLUSTER = {**Q_CLUSTER, "sync": env.bool("Q_SYNC", default=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that a real queue worker process can open the test database.
    test_database = BASE_DIR / "var" / f"test-db-{os.getpid()}.sqlite3"
    DATABASES["default"]["TEST"] = {"NAME": str(test_database)}
    (BASE_DIR / "var").mkdir(exist_ok=True)
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
WHITENOISE_USE_FINDERS = True  # the browser tests load the portal's CSS without collectstatic
WHITENOISE_AUTOREFRESH = True
SECURE_SSL_REDIRECT = False
LOGGING["root"]["level"] = "WARNING"
# The HTTP card tests call servers they start on 127.0.0.1.
FLOWS_HTTP_ALLOW_PRIVATE_NETWORKS = True
# A fixed key for the tests' stored connections (DEBUG is off here, so none is derived).
CONNECTIONS_ENCRYPTION_KEYS = ["gUyflF8J6hFRHsbeHYZqpy6z-gNjtLVuSPupYFEcOKI="]
# Every event reads the event subscriptions' version: tests see other processes' changes at once.
FLOWS_SUBSCRIPTIONS_RECHECK_SECONDS = 0.0
