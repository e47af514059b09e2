"""Settings for every environment, read from the process environment (and `.env` if present).

Production is the default: DEBUG is off unless DJANGO_DEBUG says otherwise, and then a
SECRET_KEY must be given. `make run` and the test settings switch DEBUG on explicitly.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"), overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

_DEVELOPMENT_SECRET_KEY = "django-insecure-gatehouse-development-only"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (or .env) before starting "
            "Gatehouse in production, or set DJANGO_DEBUG=true for local development."
        )
    SECRET_KEY = _DEVELOPMENT_SECRET_KEY

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "drf_spectacular",
    "django_q",
]
LOCAL_APPS = [
    "apps.core",
    "apps.audit",
    "apps.directory",
    "apps.teams",
    "apps.catalog",
    "apps.flows",
    "apps.access_requests",
    "apps.portal",
    "apps.demo",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.audit.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.portal.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the queue worker use the file side by side.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    # --- Database connection pool (PostgreSQL) ----------------------------------------------
    # Each process keeps one psycopg pool of at most DB_POOL_MAX_SIZE server connections,
    # shared by its threads; a request beyond that waits up to DB_POOL_TIMEOUT seconds for a
    # free connection (then a 503 with Retry-After) instead of opening one more until PostgreSQL
    # refuses ("too many clients already"). A process never holds more connections than it has
    # threads, and never fewer than DB_POOL_MIN_SIZE (kept open). Size it so that
    #   web processes * min(threads, MAX) + (Q_WORKERS + 3) * max(MIN, 1) + margin
    # stays below PostgreSQL's max_connections (the queue cluster is Q_WORKERS workers plus a
    # sentinel, a monitor and a pusher, one thread each). DB_POOL_MAX_SIZE=0 turns the pool
    # off: persistent, health-checked connections (CONN_MAX_AGE) instead.
    DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=10)
    if DB_POOL_MAX_SIZE > 0:
        DB_POOL_MIN_SIZE = env.int("DB_POOL_MIN_SIZE", default=1)
        if not 0 <= DB_POOL_MIN_SIZE <= DB_POOL_MAX_SIZE:
            raise ImproperlyConfigured("DB_POOL_MIN_SIZE must be between 0 and DB_POOL_MAX_SIZE.")
        # The pool keeps the connections open: Django must hand each back after a request.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": DB_POOL_MIN_SIZE,
            "max_size": DB_POOL_MAX_SIZE,
            "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
        }
    else:
        DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
        DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Identity -------------------------------------------------------------------------------
AUTH_USER_MODEL = "directory.User"
AUTHENTICATION_BACKENDS = ["apps.directory.backends.EmailOrUsernameBackend"]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS: list[Path] = []
# WhiteNoise serves the collected files (`manage.py collectstatic`) with far-future caching
# and compression, so a single gunicorn needs no separate web server for the portal's CSS.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# In development (and tests) files are served straight from the apps, no collectstatic needed.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Gatehouse <gatehouse@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.PageNumberPagination",  # strict ?page=
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "config.openapi.AutoSchema",  # + the error answers of each operation
    "EXCEPTION_HANDLER": "config.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gatehouse API",
    "DESCRIPTION": "Access requests, directory and automation.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page loads Swagger UI from our own static files (drf-spectacular-sidecar): it
    # works without the internet and under the Content-Security-Policy below.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Several models have a `status` field with their own choices: name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "UserStatusEnum": "apps.directory.models.UserStatus",
        "RequestStatusEnum": "apps.access_requests.models.RequestStatus",
        "ApprovalStatusEnum": "apps.access_requests.models.ApprovalStatus",
        "TaskStatusEnum": "apps.access_requests.models.TaskStatus",
        "QuestionTypeEnum": "apps.access_requests.models.QuestionType",
        "FlowRunStatusEnum": "apps.flows.models.RunStatus",
    },
}

# --- Cache ---------------------------------------------------------------------------------
# Per process unless CACHE_URL says otherwise. The API-endpoint flows count their rate limits in
# it: with several web processes, point CACHE_URL at Redis (redis://127.0.0.1:6379/1) for one
# limit across them all.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- Task queue (django-q2) -----------------------------------------------------------------
# The ORM broker keeps the queue in the database, so one command runs everything; REDIS_URL
# switches to Redis. `timeout` must stay below `retry`, or a slow task is started twice.
REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = {
    "name": "gatehouse",
    "workers": env.int("Q_WORKERS", default=2),
    "recycle": 500,
    "timeout": env.int("Q_TIMEOUT", default=300),
    "retry": env.int("Q_RETRY", default=360),
    "max_attempts": 3,
    "queue_limit": 100,
    "bulk": 10,
    "catch_up": False,
    # Successful tasks are not kept: flow runs, timelines and the system log are the record,
    # and django-q2's pruning of kept successes locks and reads them all on every task.
    # Failed tasks are always kept (admin: Task queue → Failed tasks).
    "save_limit": env.int("Q_SAVE_LIMIT", default=-1),
    "ack_failures": True,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 0.5
if Q_CLUSTER["timeout"] >= Q_CLUSTER["retry"]:
    raise ImproperlyConfigured("Q_TIMEOUT must be lower than Q_RETRY.")

# --- Flows ----------------------------------------------------------------------------------
# Outbound HTTP from flows refuses private, loopback and link-local addresses unless a
# connection allows them; this switch allows them for every call (a lab, the test suite).
FLOWS_HTTP_ALLOW_PRIVATE_NETWORKS = env.bool("FLOWS_HTTP_ALLOW_PRIVATE_NETWORKS", default=False)
# What one run may do (apps.flows.engine.Limits holds the defaults of the keys left out):
# max_cards, max_seconds, max_depth, max_payload_bytes, max_runs_per_root, max_claims, and
# lease_seconds: a run whose worker died is taken up again (or failed) once its lease lapses.
FLOWS_LIMITS = {"lease_seconds": env.float("FLOWS_LEASE_SECONDS", default=120.0)}
# Keys encrypting stored connections' secrets (Fernet keys, comma-separated): the first
# encrypts, every one decrypts, so a new key goes first and `rotate_connection_keys` re-encrypts
# before the old one is dropped. Empty in development: a key is derived from SECRET_KEY.
CONNECTIONS_ENCRYPTION_KEYS = env.list("CONNECTIONS_ENCRYPTION_KEYS", default=[])
# Each process keeps the event flows' subscriptions in memory; a flow saved in another process
# is seen within this many seconds (the saving process sees it at once).
FLOWS_SUBSCRIPTIONS_RECHECK_SECONDS = env.float("FLOWS_SUBSCRIPTIONS_RECHECK_SECONDS", default=1.0)

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# --- Content-Security-Policy (django-csp 4) -------------------------------------------------
# Scripts, styles, fonts and API calls from the site itself only: the portal, the admin and
# the API docs carry no inline <script>, on* handler, <style> block or style="" attribute
# (each lives in a static file). Images may also be data: URIs (Django's admin and Swagger UI
# draw their icons with them).
from csp.constants import NONE, SELF  # noqa: E402

INSTALLED_APPS += ["csp", "drf_spectacular_sidecar"]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Usernames are unique whatever their case through a functional unique constraint (and the
# backend looks them up the same way), which Django's check does not recognise.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]

# --- Sign-in throttling, API tokens (issue 7: auth) -----------------------------------------
# django-axes counts failed sign-ins on every path that calls authenticate() (portal, admin,
# API token): AXES_FAILURE_LIMIT failures for one account, or from one client address, lock
# that account / address out for AXES_COOLOFF_MINUTES, even for the right password; each
# further failure restarts the wait. The portal and the admin answer 429 with a page, the API
# 429 with a JSON reason (apps.directory.throttling). Attempts are kept in the database (admin:
# Axes → Access attempts, where a lock can be lifted by deleting its row).
INSTALLED_APPS = [*INSTALLED_APPS, "axes"]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", *AUTHENTICATION_BACKENDS]
MIDDLEWARE = [*MIDDLEWARE, "axes.middleware.AxesMiddleware"]  # last, as axes asks
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_MINUTES", default=15) / 60  # hours, as a float
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one alone locks
AXES_USERNAME_CALLABLE = "apps.directory.throttling.account_key"
AXES_LOCKOUT_CALLABLE = "apps.directory.throttling.lockout_response"
# A successful sign-in does not clear the counters: it would let anyone holding one account
# reset the count of the address they also use to guess another account's password.
AXES_RESET_ON_SUCCESS = False
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are in the system log already
# API tokens (apps.directory: ApiToken) are stored hashed, shown once, and expire.
API_TOKEN_DEFAULT_DAYS = env.int("API_TOKEN_DEFAULT_DAYS", default=30)
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", default=365)
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
    "apps.directory.authentication.ApiTokenAuthentication",
    "rest_framework.authentication.SessionAuthentication",
]
