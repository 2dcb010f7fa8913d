"""Reads for the trend report pages: figures with their intervals, the shrunk comparison, the
charts. Only stored snapshots are read (two or three queries a page); the statistics come from
feedback.stats.

Fair by construction: no figure is shown below the minimum sample, clinicians are listed by
name and never ranked, and a clinician's comparison with the practice uses the shrunk estimate,
so that a small caseload does not look extreme on noise alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import Membership
from feedback import stats
from feedback.charts import BandChart, BandPoint
from feedback.models import ReportRun, ReportSnapshot

MIN_CLIENTS = 5  # below this, or below MIN_CHECKINS, a clinician's figures are not shown
MIN_CHECKINS = 20
MIN_PERIOD_CHECKINS = 3  # a week or month with fewer check-ins shows no mean

WEEK, MONTH, WINDOW = (
    ReportSnapshot.Granularity.WEEK,
    ReportSnapshot.Granularity.MONTH,
    ReportSnapshot.Granularity.WINDOW,
)


@dataclass
class Figures:
    """One subject's 12 months, with intervals."""

    snapshot: ReportSnapshot
    name: str
    enough: bool
    alliance: stats.Interval | None  # mean of client means, t interval over clients
    response_rate: stats.Interval | None
    below_cutoff: stats.Interval | None
    shrunk: stats.Interval | None = None

    @property
    def membership(self) -> Membership | None:
        return self.snapshot.clinician

    @property
    def acknowledged_share(self) -> stats.Interval | None:
        s = self.snapshot
        return stats.wilson(s.ruptures_acknowledged, s.ruptures_detected)

    @property
    def repaired_share(self) -> stats.Interval | None:
        s = self.snapshot
        return stats.wilson(s.ruptures_repaired, s.ruptures_detected)

    @property
    def outcome_rows(self) -> list[dict]:
        return [i for i in self.snapshot.instruments if i.get("measured")]


def has_minimum_sample(snapshot: ReportSnapshot) -> bool:
    return snapshot.clients >= MIN_CLIENTS and snapshot.checkins >= MIN_CHECKINS


def _figures(snapshot: ReportSnapshot) -> Figures:
    return Figures(
        snapshot=snapshot,
        name=snapshot.clinician.display_name if snapshot.clinician else "The practice",
        enough=has_minimum_sample(snapshot),
        alliance=stats.mean_interval(
            snapshot.client_mean_mean, snapshot.client_mean_sd, snapshot.clients
        ),
        response_rate=stats.wilson(snapshot.invitations_completed, snapshot.invitations_sent),
        below_cutoff=stats.wilson(snapshot.below_cutoff, snapshot.checkins),
    )


def _window_rows() -> tuple[Figures | None, list[Figures]]:
    """The practice's and every clinician's 12-month figures, clinicians by name, each with
    its shrunk estimate (only clinicians over the minimum sample take part). One query."""
    rows = list(
        ReportSnapshot.objects.filter(granularity=WINDOW)
        .select_related("clinician__user")
    )
    practice = next((_figures(r) for r in rows if r.clinician_id is None), None)
    # Active staff only; admins once they see clients themselves, clinicians always.
    clinicians = [
        _figures(r)
        for r in rows
        if r.clinician_id is not None
        and r.clinician.status == Membership.Status.ACTIVE
        and (r.clinician.role == Membership.Role.CLINICIAN or r.checkins or r.invitations_sent)
    ]
    clinicians.sort(key=lambda f: (f.name.lower(), f.snapshot.clinician_id))
    eligible = [
        f for f in clinicians if f.enough and f.snapshot.client_mean_mean is not None
    ]
    shrinkage = stats.shrink(
        [
            stats.Group(f.snapshot.clients, f.snapshot.client_mean_mean, f.snapshot.client_mean_sd)
            for f in eligible
        ]
    )
    if shrinkage is not None:
        for f, estimate in zip(eligible, shrinkage.estimates):
            f.shrunk = estimate
        if practice is not None:
            practice.shrunk = shrinkage.practice
    return practice, clinicians


def _chart(rows: list[ReportSnapshot], granularity: str, cutoff: float | None) -> BandChart:
    points = []
    for r in rows:
        if r.granularity != granularity:
            continue
        interval = (
            stats.mean_interval(r.index_mean, r.index_sd, r.checkins)
            if r.checkins >= MIN_PERIOD_CHECKINS
            else None
        )
        points.append(BandPoint(start=r.period_start, interval=interval, n=r.checkins))
    return BandChart(points=points, cutoff=cutoff)


def _series(clinician: Membership | None) -> list[ReportSnapshot]:
    return list(
        ReportSnapshot.objects.filter(
            clinician=clinician, granularity__in=[WEEK, MONTH]
        ).order_by("granularity", "period_start")
    )


def latest_run() -> ReportRun | None:
    return ReportRun.objects.select_related("requested_by__user").first()


def trends_for(clinician: Membership) -> dict:
    """A clinician's own trends beside the practice's (for them, or an admin supervising)."""
    practice, clinicians = _window_rows()
    mine = next((f for f in clinicians if f.snapshot.clinician_id == clinician.pk), None)
    series = _series(clinician)
    cutoff = mine.snapshot.cutoff if mine else None
    return {
        "mine": mine,
        "practice": practice,
        "weekly": _chart(series, WEEK, cutoff),
        "monthly": _chart(series, MONTH, cutoff),
        "monthly_rows": [r for r in series if r.granularity == MONTH],
        "min_clients": MIN_CLIENTS,
        "min_checkins": MIN_CHECKINS,
        "min_period_checkins": MIN_PERIOD_CHECKINS,
    }


def practice_report() -> dict:
    practice, clinicians = _window_rows()
    series = _series(None)
    cutoff = practice.snapshot.cutoff if practice else None
    return {
        "practice": practice,
        "clinicians": clinicians,
        "monthly": _chart(series, MONTH, cutoff),
        "monthly_rows": [r for r in series if r.granularity == MONTH],
        "min_clients": MIN_CLIENTS,
        "min_checkins": MIN_CHECKINS,
        "min_period_checkins": MIN_PERIOD_CHECKINS,
    }
