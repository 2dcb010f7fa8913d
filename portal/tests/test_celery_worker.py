"""A real Celery worker process sends an invitation e-mail exactly once, from the broker the
deployment uses (Redis in CI)."""

import email
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import Invitation
from accounts.tasks import send_invitation
from portal.celery import app as celery_app
from portal.testing import InvitationFactory

ROOT = Path(__file__).resolve().parents[2]


def worker_env(tmp_path: Path) -> dict:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        DEBUG="1",
        RAPPORT_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        DATABASE_POOL="0",
    )
    env.pop("EMAIL_HOST", None)
    return env


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_real_worker_sends_invitation_once(tmp_path, settings):
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs the Redis broker: set REDIS_URL (CI does)")
    assert connection.vendor == "postgresql"
    invitation = InvitationFactory()
    celery_app.conf.task_always_eager = False
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "solo",
         "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT,
        env=worker_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The same invitation enqueued twice (a redelivery, or the sweeper racing the first send).
        send_invitation.delay(invitation.practice_id, invitation.pk)
        send_invitation.delay(invitation.practice_id, invitation.pk)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if Invitation.unscoped.filter(pk=invitation.pk, sent_at__isnull=False).exists():
                break
            time.sleep(0.25)
        time.sleep(2)  # let the duplicate message be consumed too
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    invitation.refresh_from_db()
    assert invitation.sent_at is not None, output
    mails = list((tmp_path / "mail").glob("*"))
    assert len(mails) == 1, output
    message = email.message_from_string(mails[0].read_text().split("\n" + "-" * 79)[0])
    body = message.get_payload(decode=True).decode()
    assert f"/invite/{invitation.token}/" in body
    assert message["To"] == invitation.membership.email
