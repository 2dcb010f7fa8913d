"""Computing the trend report snapshots (DESIGN.md, "Per-therapist trend reports").

`compute_subject_reports` aggregates one subject — a clinician, or the whole practice — over
the last 12 months in the database (GROUP BY week and month, one window row) and replaces that
subject's snapshots in one transaction: the same inputs always leave the same rows, so a nightly
run, an admin's "recompute now" and a re-delivered task can overlap harmlessly. It issues the same
number of queries however many check-ins there are. Where figures add up (counts, sums, sums of
squares) a table is read once at the finest grain needed and rolled up here: invitations by
(week, month, channel), responses by (client, instrument version).

Check-ins count for the clinician they are about (CheckinResponse.clinician); invitations for
the clinician named on them; ruptures for the clinician of the check-in that raised them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    DateField,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RowRange
from django.db.models.expressions import Window as Over  # ours is the report's time window
from django.db.models.functions import FirstValue, LastValue, RowNumber, TruncMonth, TruncWeek
from django.utils import timezone

from accounts.models import Membership
from feedback import scoring, stats
from feedback.models import (
    Alert,
    CheckinInvitation,
    CheckinResponse,
    Instrument,
    InstrumentVersion,
    ReportRun,
    ReportSnapshot,
)
from feedback.services.alerts import alert_settings
from portal.tenancy.models import Practice

WEEK, MONTH, WINDOW = (
    ReportSnapshot.Granularity.WEEK,
    ReportSnapshot.Granularity.MONTH,
    ReportSnapshot.Granularity.WINDOW,
)
MONTHS = 12


class _EpochSeconds(Func):
    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


class _Median(Aggregate):
    """PostgreSQL's percentile_cont(0.5); other databases take the Python path below."""

    function = None
    name = "Median"
    template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY %(expressions)s)%(filter)s"
    output_field = FloatField()


@dataclass(frozen=True)
class Window:
    """The 12 months a report covers, in the practice's time zone: from the first day of the
    month eleven months ago up to the end of today."""

    start: date
    end: date  # exclusive
    tz: ZoneInfo

    @classmethod
    def ending(cls, practice: Practice, now: datetime) -> Window:
        tz = ZoneInfo(practice.time_zone)
        today = now.astimezone(tz).date()
        month, year = today.month - (MONTHS - 1), today.year
        while month < 1:
            month, year = month + 12, year - 1
        return cls(start=date(year, month, 1), end=today + timedelta(days=1), tz=tz)

    def moment(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.tz)

    def bounds(self, field: str) -> dict:
        return {f"{field}__gte": self.moment(self.start), f"{field}__lt": self.moment(self.end)}


def _bucket(granularity: str, field: str, window: Window):
    """The local date a week or month starts (a date: no time zone to attach to every row)."""
    trunc = TruncWeek if granularity == WEEK else TruncMonth
    return trunc(field, tzinfo=window.tz, output_field=DateField())


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def _next_start(granularity: str, start: date) -> date:
    if granularity == WEEK:
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


# --- Whom a computation is for ------------------------------------------------------------------


@dataclass(frozen=True)
class Subjects:
    """The practice as a whole (`ids` None), or a batch of clinicians computed together: every
    query groups by `subject` (a clinician's id, or 0 for the practice), so a batch of fifty
    costs the same number of queries as one."""

    ids: tuple[int, ...] | None

    PRACTICE = 0

    def keys(self) -> list[int]:
        return [self.PRACTICE] if self.ids is None else list(self.ids)

    def of(self, rows: QuerySet, field: str) -> QuerySet:
        """`rows` narrowed to these subjects and annotated with `subject` from `field`."""
        if self.ids is None:
            return rows.annotate(subject=Value(self.PRACTICE, output_field=IntegerField()))
        return rows.filter(**{f"{field}__in": self.ids}).annotate(subject=F(field))


def _versions() -> dict[int, InstrumentVersion]:
    """The practice's instrument versions with their instruments (a handful of rows). Responses
    are narrowed by version id rather than by a join to the instrument's kind: the join cost a
    fifth of each grouped query over the responses."""
    return {
        version.pk: version
        for version in InstrumentVersion.objects.select_related("instrument").order_by(
            "instrument_id", "number"
        )
    }


def _of_kind(versions: dict[int, InstrumentVersion], kind: str) -> list[int]:
    return [pk for pk, version in versions.items() if version.instrument.kind == kind]


def _alliance(subjects: Subjects, window: Window, versions: dict) -> QuerySet:
    rows = CheckinResponse.objects.counted().filter(
        index__isnull=False,
        instrument_version_id__in=_of_kind(versions, Instrument.Kind.ALLIANCE),
        **window.bounds("submitted_at"),
    )
    return subjects.of(rows, "clinician")


def _invitations(subjects: Subjects, window: Window, now: datetime) -> QuerySet:
    # Sent: due by now and not withdrawn (a cancelled invitation was never a question asked).
    rows = CheckinInvitation.objects.filter(due_at__lte=now, **window.bounds("due_at")).exclude(
        status=CheckinInvitation.Status.CANCELLED
    )
    return subjects.of(rows, "clinician")


def _ruptures(subjects: Subjects, window: Window) -> QuerySet:
    rows = Alert.objects.filter(kind=Alert.Kind.RUPTURE, **window.bounds("created_at"))
    return subjects.of(rows, "response__clinician")


def _responses(subjects: Subjects, window: Window) -> QuerySet:
    rows = CheckinResponse.objects.counted().filter(**window.bounds("submitted_at"))
    return subjects.of(rows, "clinician")


# --- Aggregates (each one query for all the subjects) --------------------------------------------


def _alliance_figures(cutoff: float) -> dict:
    # The SD comes from the sum of squares (see _sd): portable, and defined for one value.
    # COUNT(*), not COUNT(id): a narrower row to sort for the distinct clients.
    return {
        "checkins": Count("*"),
        "clients": Count("client", distinct=True),
        "index_mean": Avg("index"),
        "index_sumsq": Sum(F("index") * F("index")),
        "below_cutoff": Count("index", filter=Q(index__lt=cutoff)),
    }


def _sd(n: int, mean: float | None, sumsq: float | None) -> float | None:
    """Sample SD from n, the mean and the sum of squares; None below two values."""
    if n < 2 or mean is None or sumsq is None:
        return None
    return math.sqrt(max(0.0, (sumsq - n * mean * mean) / (n - 1)))


SENT_FIGURES = {
    "invitations_sent": Count("pk"),
    "invitations_completed": Count("pk", filter=Q(status=CheckinInvitation.Status.COMPLETED)),
}


def _rupture_figures() -> dict:
    figures = {
        "ruptures_detected": Count("pk"),
        "ruptures_acknowledged": Count("pk", filter=Q(acknowledged_at__isnull=False)),
        "ruptures_repaired": Count("pk", filter=Q(status=Alert.Status.REPAIRED)),
    }
    if connection.vendor == "postgresql":
        figures["ack_seconds"] = _Median(
            _EpochSeconds(F("acknowledged_at") - F("created_at")),
            filter=Q(acknowledged_at__isnull=False),
        )
        figures["repair_seconds"] = _Median(
            _EpochSeconds(F("repaired_at") - F("created_at")),
            filter=Q(repaired_at__isnull=False),
        )
    return figures


def _grouped(rows: QuerySet, granularity: str, field: str, window: Window, figures: dict) -> dict:
    """{(subject, period start): figures}."""
    if granularity == WINDOW:
        grouped = rows.values("subject").annotate(**figures).order_by()
        return {(row.pop("subject"), window.start): row for row in grouped}
    grouped = (
        rows.annotate(bucket=_bucket(granularity, field, window))
        .values("subject", "bucket")
        .annotate(**figures)
        .order_by()
    )
    return {(row.pop("subject"), _as_date(row.pop("bucket"))): row for row in grouped}


def _rupture_medians(rows: QuerySet, granularity: str, window: Window) -> dict:
    """Median times where the database has no percentile function (SQLite, the embedded
    default): one query for the timestamps, the median taken per subject and period. On
    PostgreSQL percentile_cont does it in _rupture_figures."""
    if connection.vendor == "postgresql":
        return {}
    if granularity == WINDOW:
        rows = rows.annotate(bucket=Value(None, output_field=DateField()))
    else:
        rows = rows.annotate(bucket=_bucket(granularity, "created_at", window))
    acked: dict = {}
    repaired: dict = {}
    for subject, bucket, created, acknowledged, repaired_at in rows.values_list(
        "subject", "bucket", "created_at", "acknowledged_at", "repaired_at"
    ):
        key = (subject, window.start if granularity == WINDOW else _as_date(bucket))
        if acknowledged is not None:
            acked.setdefault(key, []).append((acknowledged - created).total_seconds())
        if repaired_at is not None:
            repaired.setdefault(key, []).append((repaired_at - created).total_seconds())
    return {
        key: {
            "ack_seconds": stats.median(acked.get(key, [])),
            "repair_seconds": stats.median(repaired.get(key, [])),
        }
        for key in set(acked) | set(repaired)
    }


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def _sent(rows: QuerySet, window: Window) -> tuple[dict, dict[int, dict]]:
    """Invitations sent and completed per (granularity, subject, period start), and per subject
    and channel over the window. One query at the finest grain (subject, week, month, channel);
    weeks, months, the window and the channels are added up from it (counts add up exactly)."""
    found = (
        rows.annotate(week=_bucket(WEEK, "due_at", window), month=_bucket(MONTH, "due_at", window))
        .values("subject", "week", "month", "channel")
        .annotate(**SENT_FIGURES)
        .order_by()
    )
    sent: dict = {WEEK: {}, MONTH: {}, WINDOW: {}}
    channels: dict[int, dict] = {}
    for row in found:
        subject, n, done = row["subject"], row["invitations_sent"], row["invitations_completed"]
        for granularity, start in (
            (WEEK, _as_date(row["week"])),
            (MONTH, _as_date(row["month"])),
            (WINDOW, window.start),
        ):
            tally = sent[granularity].setdefault(
                (subject, start), {"invitations_sent": 0, "invitations_completed": 0}
            )
            tally["invitations_sent"] += n
            tally["invitations_completed"] += done
        by_channel = channels.setdefault(subject, {})
        tally = by_channel.setdefault(row["channel"], {"sent": 0, "completed": 0})
        tally["sent"] += n
        tally["completed"] += done
    return sent, {subject: dict(sorted(by.items())) for subject, by in channels.items()}


@dataclass
class _PerClient:
    """What the per-client pass gives a subject: its alliance figures over the window, the mean
    and SD of its clients' own mean alliance index, and its instrument use."""

    figures: dict
    client_means: dict
    instruments: list[dict]


def _per_client(
    subjects: Subjects, window: Window, cutoff: float, versions: dict[int, InstrumentVersion]
) -> dict[int, _PerClient]:
    """One query grouped by (subject, client, instrument version) over the window's counted
    responses: added up, it gives the window's alliance figures (counts and sums add up; a
    client counts once), each client's mean alliance index, and responses and clients per
    instrument."""
    found = (
        _responses(subjects, window)
        .values("subject", "client", "instrument_version")
        .annotate(
            responses=Count("*"),
            scored=Count("index"),
            index_sum=Sum("index"),
            index_sumsq=Sum(F("index") * F("index")),
            below_cutoff=Count("index", filter=Q(index__lt=cutoff)),
        )
        .order_by()
    )
    alliance: dict[int, dict[int, list]] = {}  # subject -> client -> [n, sum, sumsq, below]
    use: dict[int, dict[int, dict]] = {}
    for row in found:
        subject, instrument = row["subject"], versions[row["instrument_version"]].instrument
        if instrument.kind == Instrument.Kind.ALLIANCE and row["scored"]:
            tally = alliance.setdefault(subject, {}).setdefault(row["client"], [0, 0.0, 0.0, 0])
            tally[0] += row["scored"]
            tally[1] += row["index_sum"]
            tally[2] += row["index_sumsq"]
            tally[3] += row["below_cutoff"]
        used = use.setdefault(subject, {}).setdefault(instrument.pk, {
            "id": instrument.pk,
            "key": instrument.key,
            "name": instrument.name,
            "outcome": instrument.kind == Instrument.Kind.OUTCOME,
            "responses": 0,
            "clients": set(),
        })
        used["responses"] += row["responses"]
        used["clients"].add(row["client"])  # once, whichever versions they answered
    result = {}
    for subject in set(alliance) | set(use):
        per_client = alliance.get(subject, {}).values()
        figures, client_means = {}, {}
        if per_client:
            n = sum(t[0] for t in per_client)
            mean = math.fsum(t[1] for t in per_client) / n
            sumsq = math.fsum(t[2] for t in per_client)
            figures = {
                "checkins": n,
                "clients": len(per_client),
                "index_mean": mean,
                "index_sd": _sd(n, mean, sumsq),
                "below_cutoff": sum(t[3] for t in per_client),
            }
            means = [t[1] / t[0] for t in per_client]
            client_mean = math.fsum(means) / len(means)
            client_means = {
                "client_mean_mean": client_mean,
                "client_mean_sd": _sd(len(means), client_mean, math.fsum(m * m for m in means)),
            }
        instruments = [{**u, "clients": len(u["clients"])} for u in use.get(subject, {}).values()]
        result[subject] = _PerClient(figures, client_means, instruments)
    return result


def _score_of():
    """The score a response's scoring rule reports, as a database expression."""
    rule = "instrument_version__scoring_rule"
    return Case(
        When(**{rule: scoring.SUM}, then=F("total")),
        When(**{rule: scoring.MEAN}, then=F("mean")),
        default=F("index"),
        output_field=FloatField(),
    )


def _outcome_changes(
    subjects: Subjects, window: Window, versions: dict[int, InstrumentVersion]
) -> dict[tuple[int, int], dict]:
    """Per (subject, outcome instrument): clients with two or more scores in the window, and how
    many of them reliably improved or deteriorated from their first to their latest score (the
    instrument's own reliable-change rule, of its latest version). One query."""
    series = subjects.of(
        CheckinResponse.objects.counted().filter(
            instrument_version_id__in=_of_kind(versions, Instrument.Kind.OUTCOME),
            **window.bounds("submitted_at"),
        ),
        "clinician",
    ).annotate(score=_score_of())
    # One client's series on one instrument (with one clinician, for a clinician's figures).
    # Window functions over one sort, not a correlated subquery per series: the planner costs
    # those per row, which also tipped PostgreSQL into JIT-compiling a query of milliseconds.
    partition = ["client", "instrument_version__instrument"]
    if subjects.ids is not None:
        partition.append("clinician")
    in_order = {"partition_by": partition, "order_by": [F("submitted_at").asc(), F("id").asc()]}
    pairs = list(
        series.annotate(
            n=Over(Count("pk"), partition_by=partition),
            position=Over(RowNumber(), **in_order),
            first=Over(FirstValue("score"), **in_order),
            last=Over(LastValue("score"), frame=RowRange(None, None), **in_order),
        )
        .filter(n__gte=2, position=1)
        .values("subject", "client", "instrument_version__instrument", "first", "last")
        .order_by()
    )
    latest_versions = {}
    for version in versions.values():  # in order of number
        latest_versions[version.instrument_id] = version  # the last one wins
    changes: dict[tuple[int, int], dict] = {}
    for pair in pairs:
        instrument_id = pair["instrument_version__instrument"]
        version = latest_versions[instrument_id]
        tally = changes.setdefault(
            (pair["subject"], instrument_id), {"measured": 0, "improved": 0, "deteriorated": 0}
        )
        tally["measured"] += 1
        if pair["first"] is None or pair["last"] is None:
            continue
        change = scoring.version_change(version, pair["first"], pair["last"])
        if change is None:
            continue
        direction = change.direction(higher_is_better=version.higher_is_better)
        if direction in (scoring.IMPROVED, scoring.DETERIORATED):
            tally[direction] += 1
    return changes


def _instrument_use(
    subjects: Subjects, window: Window, per_client: dict[int, _PerClient], versions: dict
) -> dict:
    """Per subject: responses and clients per instrument, with the outcome changes."""
    changes = _outcome_changes(subjects, window, versions)
    use: dict[int, list[dict]] = {}
    for subject, found in per_client.items():
        for row in found.instruments:
            tally = changes.get((subject, row["id"]), {})
            use.setdefault(subject, []).append(
                {
                    "key": row["key"],
                    "name": row["name"],
                    "outcome": row["outcome"],
                    "responses": row["responses"],
                    "clients": row["clients"],
                    "measured": tally.get("measured", 0),
                    "improved": tally.get("improved", 0),
                    "deteriorated": tally.get("deteriorated", 0),
                }
            )
    return {subject: sorted(rows, key=lambda r: r["name"]) for subject, rows in use.items()}


# --- The service ---------------------------------------------------------------------------------


def compute_reports(
    *, practice: Practice, clinicians: list[Membership] | None, now: datetime | None = None
) -> int:
    """Recompute the snapshots of some clinicians (or of the practice as a whole when None)
    and return how many were written. The practice's scope must be entered already. The number
    of queries depends neither on the data nor on how many clinicians are in the batch."""
    now = now or timezone.now()
    window = Window.ending(practice, now)
    cutoff = alert_settings(practice).rupture_index_below
    subjects = Subjects(None if clinicians is None else tuple(sorted(c.pk for c in clinicians)))
    versions = _versions()
    alliance = _alliance(subjects, window, versions)
    invitations = _invitations(subjects, window, now)
    ruptures = _ruptures(subjects, window)

    sent_by, channels = _sent(invitations, window)
    per_client = _per_client(subjects, window, cutoff, versions)

    rows: list[dict] = []
    window_rows: dict[int, dict] = {}
    for granularity in (WEEK, MONTH, WINDOW):
        if granularity == WINDOW:
            figures = {(s, window.start): found.figures for s, found in per_client.items()}
        else:
            figures = _grouped(
                alliance, granularity, "submitted_at", window, _alliance_figures(cutoff)
            )
            for row in figures.values():
                row["index_sd"] = _sd(row["checkins"], row["index_mean"], row.pop("index_sumsq"))
        sent = sent_by[granularity]
        rupture = _grouped(ruptures, granularity, "created_at", window, _rupture_figures())
        medians = _rupture_medians(ruptures, granularity, window)
        if granularity == WINDOW:
            keys = {(subject, window.start) for subject in subjects.keys()}
        else:
            keys = set(figures) | set(sent) | set(rupture)
        for subject, start in sorted(keys):
            row = {**figures.get((subject, start), {}), **sent.get((subject, start), {})}
            row.update(rupture.get((subject, start), {}))
            row.update(medians.get((subject, start), {}))
            ack, repair = row.pop("ack_seconds", None), row.pop("repair_seconds", None)
            snapshot = {
                **{k: (v or 0) if k not in ("index_mean", "index_sd") else v for k, v in row.items()},
                "practice_id": practice.pk,
                "clinician_id": None if subject == Subjects.PRACTICE else subject,
                "granularity": granularity,
                "period_start": start,
                "period_end": (
                    window.end if granularity == WINDOW else _next_start(granularity, start)
                ),
                "computed_at": now,
                "cutoff": cutoff,
                "median_hours_to_acknowledge": _hours(ack),
                "median_hours_to_repair": _hours(repair),
            }
            rows.append(snapshot)
            if granularity == WINDOW:
                window_rows[subject] = snapshot
    for subject, found in per_client.items():
        window_rows[subject].update(found.client_means)
    for subject, by_channel in channels.items():
        window_rows[subject]["channels"] = by_channel
    for subject, instruments in _instrument_use(subjects, window, per_client, versions).items():
        window_rows[subject]["instruments"] = instruments

    with transaction.atomic():
        # Serialise overlapping runs (nightly and on demand), then replace the rows whole.
        if subjects.ids is None:
            list(Practice.objects.select_for_update().filter(pk=practice.pk))
            ReportSnapshot.objects.filter(clinician__isnull=True).delete()
        else:
            list(Membership.objects.select_for_update().filter(pk__in=subjects.ids).order_by("pk"))
            ReportSnapshot.objects.filter(clinician_id__in=subjects.ids).delete()
        _insert_snapshots(rows)
    return len(rows)


def _insert_snapshots(rows: list[dict]) -> None:
    """Insert snapshot rows given as {column: value}. On PostgreSQL one INSERT … SELECT FROM
    unnest() of one array per column, built straight from the values: bulk_create prepares every
    field of every model instance in Python, which cost more than computing the figures (a batch
    of clinicians writes some 1,600 rows). The practice is set explicitly and the row-level
    security policy checks the rows as for any insert."""
    fields = [f for f in ReportSnapshot._meta.concrete_fields if not f.primary_key]
    if connection.vendor != "postgresql":
        ReportSnapshot.objects.bulk_create(ReportSnapshot(**row) for row in rows)
        return
    if not rows:
        return
    columns = []
    for field in fields:
        default = field.get_default()
        values = [row.get(field.attname, default) for row in rows]
        if field.get_internal_type() == "JSONField":
            values = [json.dumps(value) for value in values]
        columns.append(values)
    table = connection.ops.quote_name(ReportSnapshot._meta.db_table)
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})", columns)


def compute_subject_reports(
    *, practice: Practice, clinician: Membership | None, now: datetime | None = None
) -> int:
    """One clinician's snapshots (or the practice's when None)."""
    return compute_reports(
        practice=practice, clinicians=None if clinician is None else [clinician], now=now
    )


# --- Runs: which subjects a practice has, and progress ------------------------------------------


def report_subjects() -> QuerySet:
    """The practice's active staff: every clinician gets a report (admins often see clients too)."""
    return Membership.objects.filter(
        role__in=Membership.STAFF_ROLES, status=Membership.Status.ACTIVE
    ).order_by("pk")


def start_run(
    *, practice: Practice, actor: Membership | None, now: datetime | None = None
) -> tuple[ReportRun, bool]:
    """Open a run (nightly: once per practice and day; on demand: always a new one) and queue
    its work after commit. Returns (run, created)."""
    from feedback import tasks

    now = now or timezone.now()
    subjects = report_subjects().count() + 1
    with transaction.atomic():
        if actor is None:
            day = now.astimezone(ZoneInfo(practice.time_zone)).date()
            run, created = ReportRun.objects.get_or_create(
                practice=practice,
                key=f"nightly:{day.isoformat()}",
                defaults={"trigger": ReportRun.Trigger.NIGHTLY, "subjects": subjects, "created_at": now},
            )
        else:
            run = ReportRun.objects.create(
                practice=practice,
                key=f"demand:{now.timestamp():.6f}:{actor.pk}",
                trigger=ReportRun.Trigger.ON_DEMAND,
                requested_by=actor,
                subjects=subjects,
                created_at=now,
            )
            created = True
        if created:
            transaction.on_commit(lambda: tasks.fan_out_report_run.delay(practice.pk, run.pk))
    return run, created


def run_progress(run: ReportRun) -> int:
    """How many of the run's subjects have snapshots computed since it started."""
    return ReportSnapshot.objects.filter(granularity=WINDOW, computed_at__gte=run.created_at).count()


def finish_run_if_complete(*, run: ReportRun, now: datetime | None = None) -> bool:
    if run.finished_at is not None:
        return True
    if run_progress(run) < run.subjects:
        return False
    ReportRun.objects.filter(pk=run.pk, finished_at__isnull=True).update(
        finished_at=now or timezone.now()
    )
    return True
