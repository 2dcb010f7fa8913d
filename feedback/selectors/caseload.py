"""The clinician's caseload, ordered by what needs attention (DESIGN.md, "Clinician").

One row per client the clinician works with now: why the client needs attention (if they do),
the last and next session, the last ten alliance indexes (a sparkline), the latest outcome score
and its direction, and what is waiting for the clinician. Six queries whatever the caseload's
size: the clients with every flag and count as subqueries, the care team, the last ten alliance
check-ins and the last two scores of each outcome measure (window functions), the settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from accounts.models import Membership
from care.models import AgendaItem, CareRequest, Client, PlanProposal, TherapySession, TreatmentPlan
from care.selectors.clients import caseload_for
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
    rows = model.objects.filter(**filters).order_by().values("practice").annotate(n=Count("pk"))
    return Coalesce(Subquery(rows.values("n")[:1], output_field=IntegerField()), Value(0))


def _annotated(clients: QuerySet, now: datetime) -> QuerySet:
    alerts = Alert.objects.filter(client=OuterRef("pk"))
    today = timezone.localdate(now)
    return clients.annotate(
        safety_open=Exists(alerts.filter(kind=Alert.Kind.SAFETY, status=Alert.Status.OPEN)),
        rupture_open=Exists(alerts.filter(kind=Alert.Kind.RUPTURE, status=Alert.Status.OPEN)),
        awaiting_repair=Exists(
            alerts.filter(kind=Alert.Kind.RUPTURE, status=Alert.Status.ACKNOWLEDGED)
        ),
        checkin_overdue=Exists(
            CheckinInvitation.objects.filter(client=OuterRef("pk")).filter(
                Q(status=CheckinInvitation.Status.OPEN, due_at__lte=now - OVERDUE_AFTER)
                | Q(status=CheckinInvitation.Status.EXPIRED, expires_at__gte=now - EXPIRED_RECENTLY)
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
        last_session=Subquery(
            TherapySession.objects.filter(
                client=OuterRef("pk"), status=TherapySession.Status.ATTENDED, starts_at__lte=now
            )
            .order_by()
            .values("client")
            .annotate(at=Max("starts_at"))
            .values("at")[:1]
        ),
        next_session=Subquery(
            TherapySession.objects.filter(
                client=OuterRef("pk"), status=TherapySession.Status.SCHEDULED, starts_at__gte=now
            )
            .order_by()
            .values("client")
            .annotate(at=Min("starts_at"))
            .values("at")[:1]
        ),
    )


def _latest(responses: QuerySet, partition, keep: int) -> QuerySet:
    return responses.annotate(
        recency=Window(RowNumber(), partition_by=partition, order_by=[F("submitted_at").desc(), F("id").desc()])
    ).filter(recency__lte=keep)


def _alliance_by_client(client_ids: list[int]) -> dict[int, list[float]]:
    rows = _latest(
        CheckinResponse.objects.counted().filter(
            client_id__in=client_ids,
            index__isnull=False,
            instrument_version__instrument__kind=Instrument.Kind.ALLIANCE,
        ),
        [F("client_id")],
        SPARK_POINTS,
    ).values_list("client_id", "index", "recency")
    by_client: dict[int, list[tuple[int, float]]] = {}
    for client_id, index, recency in rows:
        by_client.setdefault(client_id, []).append((recency, index))
    return {k: [i for _, i in sorted(v, reverse=True)] for k, v in by_client.items()}


def _outcomes_by_client(client_ids: list[int]) -> dict[int, list[Outcome]]:
    rows = _latest(
        CheckinResponse.objects.counted().filter(
            client_id__in=client_ids,
            instrument_version__instrument__kind=Instrument.Kind.OUTCOME,
        ),
        [F("client_id"), F("instrument_version__instrument_id")],
        2,
    ).select_related("instrument_version__instrument")
    latest: dict[tuple[int, int], Outcome] = {}
    previous: dict[tuple[int, int], float | None] = {}
    for r in rows:
        key = (r.client_id, r.instrument_version.instrument_id)
        if r.recency == 1:
            latest[key] = Outcome(
                instrument=r.instrument_version.instrument.name,
                score=r.score,
                band=r.band_label,
                previous=None,
                higher_is_better=r.instrument_version.higher_is_better,
            )
        else:
            previous[key] = r.score
    by_client: dict[int, list[Outcome]] = {}
    for key, outcome in sorted(latest.items(), key=lambda kv: kv[1].instrument):
        outcome.previous = previous.get(key)
        if outcome.score is not None:
            by_client.setdefault(key[0], []).append(outcome)
    return by_client


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
    clients = list(_annotated(caseload_for(clinician, search=search), now))
    ids = [c.pk for c in clients]
    alliance = _alliance_by_client(ids) if ids else {}
    outcomes = _outcomes_by_client(ids) if ids else {}
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
            OVERDUE: client.checkin_overdue,
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
