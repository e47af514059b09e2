"""Deployment settings: production refuses to start without a secret and passes `check --deploy`.

Each check runs Django in a child process with an environment built from scratch, so neither
the test settings nor the developer's shell leak in.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


def run(args: list[str], cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(PROJECT_DIR),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        **variables,
    }
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def settings_without_dotenv(tmp_path) -> Path:
    """A copy of the settings package where no `.env` file can supply a SECRET_KEY.

    base.py reads `<project>/.env` when it exists; the copy's project directory is empty.
    """
    shutil.copytree(PROJECT_DIR / "config", tmp_path / "config")
    return tmp_path


def test_production_start_without_secret_key_is_refused(settings_without_dotenv):
    result = run(
        ["-c", "import django; django.setup()"], settings_without_dotenv, DJANGO_DEBUG="false"
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_development_start_without_secret_key_is_allowed(settings_without_dotenv):
    result = run(
        ["-c", "import django; django.setup()"], settings_without_dotenv, DJANGO_DEBUG="true"
    )

    assert result.returncode == 0, result.stderr


def test_check_deploy_with_production_values_finds_no_issues():
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        PROJECT_DIR,
        SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_DEBUG="false",
        ALLOWED_HOSTS="example.com",
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "no issues" in output
    assert "WARNINGS" not in output
