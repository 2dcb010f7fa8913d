"""Settings refuse unsafe production configurations; Celery follows DESIGN.md's rules."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def run_check(**env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "env, complaint",
    [
        ({"DEBUG": "0", "ALLOWED_HOSTS": "rapport.example.org"}, "SECRET_KEY must be set"),
        ({"DEBUG": "0", "SECRET_KEY": "x" * 60}, "ALLOWED_HOSTS must be set"),
    ],
)
def test_production_settings_refuse_to_start_without_secrets(env, complaint):
    result = run_check(**env)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_production_settings_start_with_secrets():
    result = run_check(DEBUG="0", SECRET_KEY="x" * 60, ALLOWED_HOSTS="rapport.example.org")
    assert result.returncode == 0, result.stderr


def test_argon2_is_the_production_password_hasher():
    import portal.settings as module

    assert module.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_celery_follows_the_background_rules():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert "accounts.tasks.sweep_unsent_invitations" in {
        job["task"] for job in settings.CELERY_BEAT_SCHEDULE.values()
    }
    if settings.CELERY_BROKER_URL.startswith("redis"):
        # Longer than the longest retry countdown (retry_backoff_max=600 s).
        assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > 600
    else:
        assert settings.CELERY_BROKER_URL == "filesystem://"
