"""`make run`: e-mail shows as one line per message, and links follow HOST / PORT."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
BACKEND = "apps.core.mail.OneLineConsoleBackend"


def test_each_message_is_one_line_with_recipients_subject_and_first_link(settings, caplog):
    settings.EMAIL_BACKEND = BACKEND
    first = EmailMultiAlternatives(
        subject="Approval needed: #7 Badge access",
        body="Hello Bob,\n\nApprove here:\nhttp://127.0.0.1:8123/approvals/link/abc/\n\n"
        "Or open the request: http://127.0.0.1:8123/requests/7/\n",
        to=["bob@gatehouse.example", "carol@gatehouse.example"],
    )
    first.attach_alternative(
        "<p>Hello Bob, <a href='http://x.example/html'>here</a></p>", "text/html"
    )
    second = EmailMultiAlternatives(subject="No link", body="Just words.", to=["dave@example.com"])

    with caplog.at_level(logging.INFO, logger="apps.core.mail"):
        sent = mail.get_connection().send_messages([first, second])

    assert sent == 2
    lines = [record.getMessage() for record in caplog.records if record.name == "apps.core.mail"]
    assert lines == [
        "mail to bob@gatehouse.example, carol@gatehouse.example: "
        "Approval needed: #7 Badge access → http://127.0.0.1:8123/approvals/link/abc/",
        "mail to dave@example.com: No link",
    ]
    assert all("\n" not in line and "Hello" not in line for line in lines)


def _settings_value(tmp_path: Path, name: str, **variables: str) -> str:
    """`name` as config.settings.local computes it, in a child process without any `.env`."""
    shutil.copytree(PROJECT_DIR / "config", tmp_path / "config", dirs_exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(PROJECT_DIR),
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        **variables,
    }
    result = subprocess.run(
        [sys.executable, "-c", f"from django.conf import settings; print(settings.{name})"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_development_uses_the_one_line_backend_unless_email_url_is_set(tmp_path):
    assert _settings_value(tmp_path, "EMAIL_BACKEND") == BACKEND
    assert (
        _settings_value(tmp_path, "EMAIL_BACKEND", EMAIL_URL="smtp://mail.example.com:587")
        == "django.core.mail.backends.smtp.EmailBackend"
    )
    assert (
        _settings_value(tmp_path, "EMAIL_BACKEND", EMAIL_URL="consolemail://")
        == "django.core.mail.backends.console.EmailBackend"
    )


def _make_run_commands(**variables: str) -> str:
    """What `make run` would execute (`make -n`: printed, not run)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    env = {key: value for key, value in os.environ.items() if key != "SITE_URL"}
    args = [f"{key}={value}" for key, value in variables.items() if key != "SITE_URL"]
    if "SITE_URL" in variables:
        env["SITE_URL"] = variables["SITE_URL"]
    result = subprocess.run(
        [make, "-n", "-s", "--no-print-directory", "run", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_run_links_follow_host_and_port():
    commands = _make_run_commands(PORT="8123")
    assert "export SITE_URL=http://127.0.0.1:8123;" in commands
    assert "runserver 127.0.0.1:8123" in commands
    assert "export SITE_URL=http://0.0.0.0:9000;" in _make_run_commands(HOST="0.0.0.0", PORT="9000")


def test_make_run_keeps_a_site_url_that_is_set():
    commands = _make_run_commands(PORT="8123", SITE_URL="https://dev.example.com")
    assert "export SITE_URL=https://dev.example.com;" in commands
