"""The clinician's caseload, ordered by what needs attention (DESIGN.md, "Clinician").

One row per client the clinician works with now: why the client needs attention (if they do),
the last and next session, the last ten alliance indexes (a sparkline), the latest outcome score
and its direction, and what is waiting for the clinician. Three queries whatever the caseload's
size: the clients with every flag and count as subqueries, the last ten alliance indexes and the
last two scores of each outcome measure (one window function), the settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import (
    Case,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from accounts.models import Membership
from care.models import (
    AgendaItem,
    CareRequest,
    CaseloadAssignment,
    Client,
    PlanProposal,
    TherapySession,
    TreatmentPlan,
)
from care.selectors.clients import current_clients_of
from feedback import scoring
from feedback.models import Alert, CheckinInvitation, CheckinResponse, Instrument
from feedback.services.alerts import RuptureRules, alert_settings
from portal.tenancy.context import require_practice

SPARK_POINTS = 10
OVERDUE_AFTER = timedelta(hours=24)  # an open check-in this long past due is overdue
EXPIRED_RECENTLY = timedelta(days=14)  # an unanswered check-in that expired this recently

# Why a client needs attention, most urgent first (the caseload's order).
SAFETY, RUPTURE, FALLING, AWAITING_REPAIR, OVERDUE, REVIEW_DUE, REQUESTS = (
    "safety", "rupture", "falling", "awaiting_repair", "overdue", "review_due", "requests"
)
REASONS = {
    SAFETY: "Safety alert",
    RUPTURE: "Possible rupture",
    FALLING: "Alliance falling",
    AWAITING_REPAIR: "Rupture waiting for repair",
    OVERDUE: "Check-in overdue",
    REVIEW_DUE: "Plan review due",
    REQUESTS: "Waiting for your reply",
}
ORDER = list(REASONS)


@dataclass
class Outcome:
    instrument: str
    score: float
    band: str
    previous: float | None
    higher_is_better: bool

    @property
    def change(self) -> float | None:
        return None if self.previous is None else self.score - self.previous

    @property
    def direction(self) -> str:
        """"better", "worse" or "same" since the score before."""
        change = self.change
        if not change:
            return "same"
        return "better" if (change > 0) == self.higher_is_better else "worse"


@dataclass
class CaseloadRow:
    client: Client
    reasons: list[str] = field(default_factory=list)
    alliance: list[float] = field(default_factory=list)  # oldest first
    outcomes: list[Outcome] = field(default_factory=list)
    url: str = ""  # the client page; the view fills it in

    @property
    def rank(self) -> int:
        return min((ORDER.index(r) for r in self.reasons), default=len(ORDER))

    @property
    def reason_labels(self) -> list[tuple[str, str]]:
        return [(r, REASONS[r]) for r in self.reasons]

    @property
    def last_index(self) -> float | None:
        return self.alliance[-1] if self.alliance else None

    @property
    def pending(self) -> dict[str, int]:
        c = self.client
        return {
            "requests": c.open_requests,
            "proposals": c.pending_proposals,
            "agenda": c.open_agenda,
        }


def _count(model, **filters):
    # COUNT as a plain function, not an aggregate: no GROUP BY, so the subquery always returns
    # one row (0 when nothing matches) and is cheaper to build and to run.
    rows = model.objects.filter(**filters).order_by().annotate(n=Func(F("pk"), function="COUNT"))
    return Subquery(rows.values("n"), output_field=IntegerField())


def _annotated(clients: QuerySet, now: datetime) -> QuerySet:
    alerts = Alert.objects.filter(client=OuterRef("pk"))
    invitations = CheckinInvitation.objects.filter(client=OuterRef("pk"))
    sessions = TherapySession.objects.filter(client=OuterRef("pk"))
    today = timezone.localdate(now)
    return clients.annotate(
        safety_open=Exists(alerts.filter(kind=Alert.Kind.SAFETY, status=Alert.Status.OPEN)),
        rupture_open=Exists(alerts.filter(kind=Alert.Kind.RUPTURE, status=Alert.Status.OPEN)),
        awaiting_repair=Exists(
            alerts.filter(kind=Alert.Kind.RUPTURE, status=Alert.Status.ACKNOWLEDGED)
        ),
        # Two probes on the (practice, client, status) index rather than one OR that reads
        # every invitation the client ever had.
        checkin_open_overdue=Exists(
            invitations.filter(
                status=CheckinInvitation.Status.OPEN, due_at__lte=now - OVERDUE_AFTER
            )
        ),
        checkin_expired_recently=Exists(
            invitations.filter(
                status=CheckinInvitation.Status.EXPIRED, expires_at__gte=now - EXPIRED_RECENTLY
            )
        ),
        review_due=Exists(
            TreatmentPlan.objects.filter(client=OuterRef("pk"), review_date__lte=today).exclude(
                status=TreatmentPlan.Status.CLOSED
            )
        ),
        open_requests=_count(CareRequest, client=OuterRef("pk"), status=CareRequest.Status.OPEN),
        pending_proposals=_count(
            PlanProposal, plan__client=OuterRef("pk"), status=PlanProposal.Status.PENDING
        ),
        open_agenda=_count(
            AgendaItem, client=OuterRef("pk"), status=AgendaItem.Status.OPEN
        ),
        # The nearest session each way: a short walk along the (practice, client, starts_at)
        # index instead of aggregating the client's whole history.
        last_session=Subquery(
            sessions.filter(status=TherapySession.Status.ATTENDED, starts_at__lte=now)
            .order_by("-starts_at")
            .values("starts_at")[:1]
        ),
        next_session=Subquery(
            sessions.filter(status=TherapySession.Status.SCHEDULED, starts_at__gte=now)
            .order_by("starts_at")
            .values("starts_at")[:1]
        ),
        # Only whether care is shared and whether the client joined the portal are shown:
        # a count and a column, not the care team and membership as objects.
        team_size=_count(CaseloadAssignment, client=OuterRef("pk"), ended_at__isnull=True),
        portal_status=F("membership__status"),
    )


def _scores_by_client(
    client_ids: list[int],
) -> tuple[dict[int, list[float]], dict[int, list[Outcome]]]:
    """The last ten alliance indexes (oldest first) and the latest outcome of each measure, with
    the score before it, per client. One pass over the clients' responses: alliance check-ins
    are numbered as one series per client, outcome measures one series per instrument, and only
    the rows shown come back (ten of the first, two of each other)."""
    version = "instrument_version"
    is_alliance = Q(**{f"{version}__instrument__kind": Instrument.Kind.ALLIANCE})
    is_outcome = Q(**{f"{version}__instrument__kind": Instrument.Kind.OUTCOME})
    series = Case(
        When(is_alliance, then=Value(0)),
        default=F(f"{version}__instrument_id"),
        output_field=IntegerField(),
    )
    # The score the version's rule reports, picked in the query rather than per row here.
    score = Case(
        When(**{f"{version}__scoring_rule": scoring.SUM}, then=F("total")),
        When(**{f"{version}__scoring_rule": scoring.MEAN}, then=F("mean")),
        default=F("index"),
        output_field=FloatField(),
    )
    rows = (
        CheckinResponse.objects.counted()
        .filter(client_id__in=client_ids)
        .filter((is_alliance & Q(index__isnull=False)) | is_outcome)
        .annotate(
            series=series,
            score=score,
            recency=Window(
                RowNumber(),
                partition_by=[F("client_id"), series],
                order_by=[F("submitted_at").desc(), F("id").desc()],
            ),
        )
        .filter(recency__lte=SPARK_POINTS)  # on its own: PostgreSQL then stops each series early
        .filter(Q(series=0) | Q(recency__lte=2))
        .order_by()
        .values_list(
            "client_id", "series", "recency", "score", "band_label",
            f"{version}__instrument__name", f"{version}__higher_is_better",
        )
    )
    spark: dict[int, list[tuple[int, float]]] = {}
    latest: dict[tuple[int, int], Outcome] = {}
    previous: dict[tuple[int, int], float] = {}
    for client_id, series_id, recency, value, band, name, higher in rows:
        if series_id == 0:
            spark.setdefault(client_id, []).append((recency, value))
        elif recency == 1:
            latest[client_id, series_id] = Outcome(
                instrument=name, score=value, band=band, previous=None, higher_is_better=higher
            )
        else:
            previous[client_id, series_id] = value
    alliance_by_client = {k: [i for _, i in sorted(v, reverse=True)] for k, v in spark.items()}
    outcomes: dict[int, list[Outcome]] = {}
    for key, outcome in sorted(latest.items(), key=lambda kv: kv[1].instrument):
        outcome.previous = previous.get(key)
        if outcome.score is not None:
            outcomes.setdefault(key[0], []).append(outcome)
    return alliance_by_client, outcomes


def _is_falling(alliance: list[float], rules: RuptureRules) -> bool:
    """The latest index is at least the practice's drop below the one before, or the last
    three went down in a row."""
    if len(alliance) < 2:
        return False
    if alliance[-2] - alliance[-1] >= rules.drop_at_least:
        return True
    return len(alliance) >= 3 and alliance[-3] > alliance[-2] > alliance[-1]


def caseload_rows(
    clinician: Membership, *, search: str = "", now: datetime | None = None
) -> list[CaseloadRow]:
    """Every client the clinician works with now, most in need of attention first, then by
    name."""
    now = now or timezone.now()
    # Python sorts the rows below, so the database need not.
    clients = list(_annotated(current_clients_of(clinician, search=search), now).order_by())
    ids = [c.pk for c in clients]
    alliance, outcomes = _scores_by_client(ids) if ids else ({}, {})
    rules = RuptureRules.of(alert_settings(require_practice()))
    rows = []
    for client in clients:
        row = CaseloadRow(
            client=client, alliance=alliance.get(client.pk, []), outcomes=outcomes.get(client.pk, [])
        )
        flags = {
            SAFETY: client.safety_open,
            RUPTURE: client.rupture_open,
            FALLING: _is_falling(row.alliance, rules),
            AWAITING_REPAIR: client.awaiting_repair,
            OVERDUE: client.checkin_open_overdue or client.checkin_expired_recently,
            REVIEW_DUE: client.review_due,
            REQUESTS: bool(client.open_requests or client.pending_proposals),
        }
        row.reasons = [reason for reason in ORDER if flags[reason]]
        rows.append(row)
    rows.sort(key=lambda r: (r.rank, r.client.last_name.lower(), r.client.first_name.lower(), r.client.pk))
    return rows


def filter_rows(rows: list[CaseloadRow], need: str) -> list[CaseloadRow]:
    """`need`: "" for everyone, "attention" for anyone with a reason, or one reason."""
    if need == "attention":
        return [r for r in rows if r.reasons]
    if need in REASONS:
        return [r for r in rows if need in r.reasons]
    return rows


def reason_counts(rows: list[CaseloadRow]) -> dict[str, int]:
    return {reason: sum(reason in r.reasons for r in rows) for reason in ORDER}
