"""Demo check-in history for the seed (portal seed_demo): months of check-ins with a realistic
trajectory, stored through submit_response (backdated) so that rupture and safety detection
runs in order and alerts, acknowledgements and repairs arise as they would in real use.

    from feedback.demo import seed_history, TRAJECTORIES
    seed_history(practice, client, "repaired_rupture", clinician)

Trajectories: "steady", "improving", "repaired_rupture", "open_rupture", "safety". Each gives
a weekly session check-in and a PHQ-9 every other week over `weeks` weeks ending now. The
practice needs the shipped instruments (accounts.services.create_practice installs them).
Idempotent: a client who already has check-ins is left alone (returns []).
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from care.models import Client
from feedback.models import Alert, CheckinInvitation, CheckinResponse, InstrumentVersion
from feedback.services.alerts import acknowledge_alert
from feedback.services.responses import submit_response
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice

TRAJECTORIES = ("steady", "improving", "repaired_rupture", "open_rupture", "safety")
CORE = ["heard", "my-goals", "approach", "pace", "cared", "challenged", "say", "overall"]


def _alliance_answers(index: float, *, rupture: bool = False) -> dict:
    """Eight 0–10 answers whose mean is `index` (to the nearest 1/8)."""
    total = round(index * 8)
    base, extra = divmod(total, 8)
    values = [min(10, base + (1 if i < extra else 0)) for i in range(8)]
    answers = dict(zip(CORE, values, strict=True))
    if rupture:
        answers["rupture"] = "yes"
        answers["rupture-detail"] = "I felt rushed when we talked about my family."
    return answers


def _phq9_answers(total: int, item9: int = 0) -> dict:
    rest = max(0, min(24, total - item9))
    values = []
    for _ in range(8):
        values.append(min(3, rest))
        rest -= values[-1]
    answers = {f"phq9-{n}": v for n, v in enumerate(values, start=1)}
    answers["phq9-9"] = item9
    return answers


def _plan(trajectory: str, weeks: int) -> tuple[list[tuple[float, bool]], list[tuple[int, int]]]:
    """(alliance index, rupture reported) per week and (PHQ-9 total, item 9) every other week.
    Alliance values never dip below the running mean except where a rupture is meant."""
    rising = [min(9.875, 9.25 + 0.125 * (w // 2)) for w in range(weeks)]
    alliance = [(v, False) for v in rising]
    phq = [(max(4, 11 - w // 4), 0) for w in range(0, weeks, 2)]
    if trajectory == "improving":
        phq = [(max(5, 19 - (w * 14) // max(1, weeks - 1)), 0) for w in range(0, weeks, 2)]
    elif trajectory == "repaired_rupture":
        drop = weeks // 2
        pre = alliance[drop - 1][0]
        alliance[drop] = (7.5, True)
        for w in range(drop + 1, weeks):
            alliance[w] = (max(pre, alliance[w][0]), False)
        phq = [(max(6, 16 - w // 3), 0) for w in range(0, weeks, 2)]
    elif trajectory == "open_rupture":
        alliance[-1] = (7.75, False)
    elif trajectory == "safety":
        phq = [(14 + (w // 4) % 3, 0) for w in range(0, weeks, 2)]
        phq[-1] = (17, 1)
    return alliance, phq


def _invitation(practice, client, version, clinician, week, at, response) -> CheckinInvitation:
    """The e-mailed invitation a demo check-in answered (or that expired unanswered), so that
    response rates in the reports have something to count."""
    due = at - timedelta(hours=2)
    invitation = CheckinInvitation(
        practice=practice, client=client, instrument_version=version, clinician=clinician,
        occurrence_key=f"demo:{week}", channel=CheckinInvitation.Channel.EMAIL,
        due_at=due, expires_at=due + timedelta(days=4), created_at=due,
    )
    if response is None:
        invitation.status, invitation.closed_at = CheckinInvitation.Status.EXPIRED, due + timedelta(days=4)
    else:
        invitation.status, invitation.completed_at = CheckinInvitation.Status.COMPLETED, at
        invitation.response = response
    invitation.assign_new_token()
    invitation.save()
    return invitation


def _version(key: str) -> InstrumentVersion:
    return (
        InstrumentVersion.objects.filter(instrument__key=key).order_by("-number").first()
    )


def seed_history(
    practice: Practice,
    client: Client,
    trajectory: str,
    clinician: Membership,
    *,
    weeks: int = 16,
    now: datetime | None = None,
    care_team: list[Membership] | None = None,
) -> list[CheckinResponse]:
    if trajectory not in TRAJECTORIES:
        raise ValueError(f"Unknown trajectory {trajectory!r}; choose from {', '.join(TRAJECTORIES)}.")
    now = now or timezone.now()
    with practice_scope(practice), transaction.atomic():
        if CheckinResponse.objects.filter(client=client).exists():
            return []
        alliance_version, phq_version = _version("session-checkin"), _version("phq9")
        if alliance_version is None or phq_version is None:
            raise ValueError("Install the shipped instruments in this practice first.")
        alliance, phq = _plan(trajectory, weeks)
        start = now - timedelta(weeks=weeks - 1, hours=3)
        stored = []
        team = care_team or [clinician]
        for week, (index, rupture) in enumerate(alliance):
            at = start + timedelta(weeks=week)
            if week == weeks - 1 and trajectory in ("open_rupture", "safety"):
                at = now - timedelta(hours=2)
            seen_by = team[week % len(team)]  # shared care: sessions with either clinician
            if week % 7 == 5 and not rupture:  # now and then a check-in goes unanswered
                _invitation(practice, client, alliance_version, seen_by, week, at, None)
            else:
                response = submit_response(
                    practice=practice, client=client, version=alliance_version,
                    answers=_alliance_answers(index, rupture=rupture), channel="email",
                    clinician=seen_by, submitted_at=at,
                )
                _invitation(practice, client, alliance_version, seen_by, week, at, response)
                stored.append(response)
            if trajectory == "repaired_rupture" and rupture:
                alert = Alert.objects.filter(client=client, kind=Alert.Kind.RUPTURE, status="open").first()
                if alert is not None:
                    acknowledge_alert(
                        practice=practice, actor=clinician, alert=alert,
                        note="Open next session by asking about feeling rushed; slow the pace.",
                        now=at + timedelta(hours=20),
                    )
            if week % 2 == 0 and week // 2 < len(phq):
                total, item9 = phq[week // 2]
                phq_at = at + timedelta(minutes=5)
                if week // 2 == len(phq) - 1 and trajectory == "safety":
                    phq_at = now - timedelta(hours=1)
                stored.append(
                    submit_response(
                        practice=practice, client=client, version=phq_version,
                        answers=_phq9_answers(total, item9), channel="email", clinician=clinician,
                        submitted_at=phq_at,
                    )
                )
        return stored
