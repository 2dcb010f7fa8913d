"""Helpers for the alert, chart and escalation tests: answered check-ins with chosen scores."""

from datetime import timedelta

from django.utils import timezone

from feedback.services import install_standard_instruments, submit_response
from feedback.testing import latest_version

CORE = ["heard", "my-goals", "approach", "pace", "cared", "challenged", "say", "overall"]


def with_instruments(world):
    install_standard_instruments(world.practice)
    return world


def alliance_answers(values, rupture=False) -> dict:
    """Eight core answers: one number for all, or a list of eight."""
    if isinstance(values, int):
        values = [values] * 8
    answers = dict(zip(CORE, values, strict=True))
    if rupture:
        answers["rupture"] = "yes"
    return answers


def phq9_answers(total: int, item9: int = 0) -> dict:
    """PHQ-9 answers adding up to `total`, with item 9 as given."""
    rest = total - item9
    assert 0 <= rest <= 24
    values = []
    for _ in range(8):
        values.append(min(3, rest))
        rest -= values[-1]
    answers = {f"phq9-{n}": v for n, v in enumerate(values, start=1)}
    answers["phq9-9"] = item9
    return answers


class Answering:
    """Submit check-ins for one client, one day apart by default (in the practice's scope)."""

    def __init__(self, world, client=None, start=None, clinician=None):
        self.world = world
        self.client = client or world.client
        self.at = start or timezone.now() - timedelta(days=60)
        self.clinician = clinician

    def _submit(self, key, answers, at=None):
        self.at = at or self.at + timedelta(days=1)
        with self.world.scope():
            return submit_response(
                practice=self.world.practice, client=self.client,
                version=latest_version(self.world.practice, key), answers=answers,
                channel="portal", submitted_at=self.at, clinician=self.clinician,
            )

    def alliance(self, values, rupture=False, at=None):
        return self._submit("session-checkin", alliance_answers(values, rupture), at)

    def phq9(self, total, item9=0, at=None):
        return self._submit("phq9", phq9_answers(total, item9), at)
