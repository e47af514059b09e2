"""Development settings: what `manage.py` uses unless told otherwise.

DEBUG defaults to on here (an explicit DJANGO_DEBUG=false still wins), so `manage.py migrate`,
`makemigrations` or `shell` work on a fresh clone with nothing configured. The web server's
entry points (config/wsgi.py, config/asgi.py) load `config.settings.base`, where DEBUG is off by
default and a SECRET_KEY is required.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")

from .base import *

if not env.str("EMAIL_URL", default=""):
    # No mail server configured: each e-mail is one line in the log (to, subject, first link).
    EMAIL_BACKEND = "apps.core.mail.OneLineConsoleBackend"
