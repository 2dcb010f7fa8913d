"""Trend reports: figures against a hand-computed fixture, empty and tiny samples, idempotent
runs, constant query counts, the pages, CSV exports and supervision (audited)."""

import csv
import io
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils.html import escape
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership
from feedback.models import Alert, CheckinInvitation, CheckinResponse, ReportRun, ReportSnapshot
from feedback.selectors import reports as selectors
from feedback.services import reports
from feedback.testing import latest_version, make_checkin
from feedback.tests.alerts_support import Answering, alliance_answers, with_instruments
from portal.audit.models import AuditEvent
from portal.testing import AssignmentFactory, ClientFactory, MembershipFactory

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=dt_timezone.utc)


def at(month, day, hour=10):
    return datetime(2026, month, day, hour, 0, tzinfo=dt_timezone.utc)


def client_of(world, name):
    client = ClientFactory(practice=world.practice, first_name=name, last_name="Test")
    AssignmentFactory(practice=world.practice, client=client, clinician=world.clinician)
    return client


@pytest.fixture
def fixture(world_a):
    """Three clients of world_a.clinician with alliance indexes (all eight items equal, so the
    index is that value):
        c1: 10 (Mon 2 Nov), 8 (Mon 9 Nov, a rupture: below 9 and a drop of 2)
        c2: 9 (Tue 3 Nov), 9 (Tue 10 Nov)
        c3: 6 (Thu 15 Oct, a rupture: below 9)
    and PHQ-9: c1 15 → 8 (−7, reliably improved: ≥ 6), c2 5 → 10 (+5, not reliable), c3 once.
    """
    w = with_instruments(world_a)
    c1, c2, c3 = client_of(w, "Ann"), client_of(w, "Ben"), client_of(w, "Cas")
    for client, values in ((c1, [(at(11, 2), 10), (at(11, 9), 8)]),
                           (c2, [(at(11, 3), 9), (at(11, 10), 9)]),
                           (c3, [(at(10, 15), 6)])):
        answering = Answering(w, client=client, clinician=w.clinician)
        for when, value in values:
            answering.alliance(value, at=when)
    for client, values in ((c1, [(at(10, 1), 15), (at(11, 1), 8)]),
                           (c2, [(at(10, 2), 5), (at(11, 2, 11), 10)]),
                           (c3, [(at(10, 3), 12)])):
        answering = Answering(w, client=client, clinician=w.clinician)
        for when, total in values:
            answering.phq9(total, at=when)
    with w.scope():
        a1 = Alert.objects.get(client=c1, kind=Alert.Kind.RUPTURE)
        a3 = Alert.objects.get(client=c3, kind=Alert.Kind.RUPTURE)
        # Acknowledged after 20 h and 48 h (median 34 h); a1 repaired after 7 days (168 h).
        Alert.objects.filter(pk=a1.pk).update(
            created_at=at(11, 9), acknowledged_at=at(11, 9) + timedelta(hours=20),
            repaired_at=at(11, 16), status=Alert.Status.REPAIRED,
        )
        Alert.objects.filter(pk=a3.pk).update(
            created_at=at(10, 15), acknowledged_at=at(10, 17),
            status=Alert.Status.ACKNOWLEDGED,
        )
        # Invitations: 4 sent by e-mail (3 answered), 1 in session (answered), 1 cancelled
        # (never counts), 1 due tomorrow (not sent yet).
        for status, channel, due in (
            ("completed", "email", at(11, 2)), ("completed", "email", at(11, 3)),
            ("completed", "email", at(11, 9)), ("expired", "email", at(11, 10)),
            ("completed", "in_session", at(10, 15)), ("cancelled", "email", at(11, 11)),
            ("open", "email", NOW + timedelta(days=1)),
        ):
            closed = {"completed_at": due} if status == "completed" else (
                {"closed_at": due} if status in ("expired", "cancelled") else {})
            make_checkin(practice=w.practice, client=c1, clinician=w.clinician,
                         channel=channel, status=status, due_at=due, **closed)
    w.clients = (c1, c2, c3)
    return w


def compute(world, clinician):
    with world.scope():
        return reports.compute_subject_reports(practice=world.practice, clinician=clinician, now=NOW)


def window(world, clinician):
    with world.scope():
        return ReportSnapshot.objects.get(clinician=clinician, granularity="window")


def test_window_figures_match_the_hand_computed_fixture(fixture):
    compute(fixture, fixture.clinician)
    s = window(fixture, fixture.clinician)
    assert (s.period_start.isoformat(), s.period_end.isoformat()) == ("2025-12-01", "2026-11-27")
    assert (s.checkins, s.clients, s.below_cutoff, s.cutoff) == (5, 3, 2, 9.0)
    # (10 + 8 + 9 + 9 + 6) / 5 = 8.4; squared deviations 2.56 + .16 + .36 + .36 + 5.76 = 9.2
    assert s.index_mean == pytest.approx(8.4)
    assert s.index_sd == pytest.approx((9.2 / 4) ** 0.5)
    # Client means 9, 9, 6: mean 8, SD √3
    assert s.client_mean_mean == pytest.approx(8)
    assert s.client_mean_sd == pytest.approx(3**0.5)
    assert (s.ruptures_detected, s.ruptures_acknowledged, s.ruptures_repaired) == (2, 2, 1)
    assert s.median_hours_to_acknowledge == pytest.approx(34)
    assert s.median_hours_to_repair == pytest.approx(168)
    assert (s.invitations_sent, s.invitations_completed) == (5, 4)
    assert s.channels == {"email": {"sent": 4, "completed": 3},
                          "in_session": {"sent": 1, "completed": 1}}
    phq = next(i for i in s.instruments if i["key"] == "phq9")
    assert (phq["responses"], phq["clients"], phq["measured"], phq["improved"],
            phq["deteriorated"]) == (5, 3, 2, 1, 0)


def test_weekly_and_monthly_buckets(fixture):
    compute(fixture, fixture.clinician)
    with fixture.scope():
        weeks = {
            s.period_start.isoformat(): (s.checkins, s.index_mean)
            for s in ReportSnapshot.objects.filter(clinician=fixture.clinician, granularity="week")
            if s.checkins
        }
        months = {
            s.period_start.isoformat(): (s.checkins, s.index_mean, s.ruptures_detected)
            for s in ReportSnapshot.objects.filter(clinician=fixture.clinician, granularity="month")
        }
    # Weeks start on Monday: 12 Oct (6), 2 Nov (10, 9), 9 Nov (8, 9).
    assert weeks == {"2026-10-12": (1, 6), "2026-11-02": (2, 9.5), "2026-11-09": (2, 8.5)}
    assert months["2026-10-01"] == (1, 6, 1)
    assert months["2026-11-01"] == (4, 9, 1)


def test_the_figures_shown_and_their_intervals(fixture):
    compute(fixture, fixture.clinician)
    with fixture.scope():
        mine = selectors.trends_for(fixture.clinician)["mine"]
    # Three clients: below the minimum sample (5 clients, 20 check-ins), so nothing is shown...
    assert not mine.enough
    # ...but the intervals are computed the same way: 8 ± t(2)·√3/√3 = 8 ± 4.303
    assert mine.alliance.low == pytest.approx(8 - 4.303)
    assert mine.response_rate.estimate == pytest.approx(0.8)


def test_an_empty_practice_stores_zeros_and_shows_nothing(world_a, as_member):
    compute(world_a, world_a.clinician)
    s = window(world_a, world_a.clinician)
    assert (s.checkins, s.clients, s.invitations_sent, s.ruptures_detected) == (0, 0, 0, 0)
    assert s.index_mean is None and s.median_hours_to_acknowledge is None
    page = as_member(world_a.clinician).get(world_a.url("reports/mine/")).content.decode()
    assert "Not enough yet to show figures fairly" in page


def test_recomputing_replaces_the_same_rows(fixture):
    first = compute(fixture, fixture.clinician)
    with fixture.scope():
        before = sorted(ReportSnapshot.objects.filter(clinician=fixture.clinician)
                        .values_list("granularity", "period_start", "checkins", "index_mean"))
    assert compute(fixture, fixture.clinician) == first
    with fixture.scope():
        after = sorted(ReportSnapshot.objects.filter(clinician=fixture.clinician)
                       .values_list("granularity", "period_start", "checkins", "index_mean"))
    assert after == before


def test_the_practice_subject_counts_everyone(fixture):
    c = client_of(fixture, "Dot")
    AssignmentFactory(practice=fixture.practice, client=c, clinician=fixture.clinician2)
    Answering(fixture, client=c, clinician=fixture.clinician2).alliance(7, at=at(11, 4))
    compute(fixture, None)
    s = window(fixture, None)
    assert (s.checkins, s.clients) == (6, 4)


def _seed_checkins(world, clinician, n):
    """n alliance check-ins written in bulk (scores stored as submit_response would)."""
    with world.scope():
        version = latest_version(world.practice, "session-checkin")
        clients = [client_of(world, f"Bulk{i}") for i in range(20)]
        CheckinResponse.objects.bulk_create(
            CheckinResponse(
                practice=world.practice, client=clients[i % 20], instrument_version=version,
                channel="portal", clinician=clinician, index=5 + i % 6, mean=5 + i % 6,
                submitted_at=NOW - timedelta(hours=1 + i % 8000),
            )
            for i in range(n)
        )


@pytest.mark.postgres
def test_computation_issues_the_same_queries_for_1000_and_100000_checkins(world_a):
    with_instruments(world_a)
    _seed_checkins(world_a, world_a.clinician, 1_000)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            compute(world_a, world_a.clinician)
        return len(ctx.captured_queries)

    small = count()
    _seed_checkins(world_a, world_a.clinician, 99_000)
    assert count() == small
    assert window(world_a, world_a.clinician).checkins == 100_000


def test_computation_queries_do_not_grow_with_checkins(world_a):
    with_instruments(world_a)
    _seed_checkins(world_a, world_a.clinician, 30)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            compute(world_a, world_a.clinician)
        return len(ctx.captured_queries)

    small = count()
    _seed_checkins(world_a, world_a.clinician, 600)
    assert count() == small


@pytest.mark.postgres
def test_computation_runs_one_grouped_query_per_table_and_granularity(fixture, django_assert_num_queries):
    # Settings and instrument versions; invitations (one pass), responses per client (one
    # pass), alliance per week and per month, ruptures per week, month and window, outcome
    # series; then savepoint, lock, delete, one insert, release. The same for the practice.
    for clinicians in (None, [fixture.clinician, fixture.clinician2]):
        with fixture.scope(), django_assert_num_queries(15):
            reports.compute_reports(practice=fixture.practice, clinicians=clinicians, now=NOW)


# --- Runs (Celery, eager in tests) -----------------------------------------------------------


def test_a_recompute_runs_every_subject_and_finishes(fixture, as_member, django_capture_on_commit_callbacks):
    web = as_member(fixture.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = web.post(fixture.url("reports/practice/"))
    assert response.status_code == 302
    with fixture.scope():
        run = ReportRun.objects.get()
        staff = Membership.objects.filter(role__in=Membership.STAFF_ROLES).count()
        assert run.subjects == staff + 1 and run.finished_at is not None
        assert reports.run_progress(run) == run.subjects
        assert ReportSnapshot.objects.filter(granularity="window").count() == staff + 1
    page = web.get(fixture.url("reports/practice/")).content.decode()
    assert "Figures computed" in page and 'http-equiv="refresh"' not in page


def test_nightly_runs_once_per_practice_and_day(fixture, world_b, django_capture_on_commit_callbacks):
    from feedback import tasks

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.compute_nightly_reports() == 2  # alpha and bravo
    assert tasks.compute_nightly_reports() == 0  # the same day again: nothing new
    with fixture.scope():
        assert ReportRun.objects.filter(trigger="nightly").count() == 1
        assert ReportSnapshot.objects.filter(clinician=fixture.clinician, granularity="window").count() == 1


def test_a_run_in_progress_shows_its_progress(fixture, as_member):
    with fixture.scope():
        ReportRun.objects.create(practice=fixture.practice, key="demand:x", trigger="on_demand",
                                 subjects=4, requested_by=fixture.admin)
    page = as_member(fixture.admin).get(fixture.url("reports/practice/")).content.decode()
    assert "Recomputing: 0 of 4 reports done" in page
    assert 'http-equiv="refresh"' in page and "<progress" in page


# --- Pages -----------------------------------------------------------------------------------


def _big_enough(world):
    """Two clinicians with six clients and 24 check-ins each: enough to be shown and compared."""
    with_instruments(world)
    for clinician, base in ((world.clinician, 9), (world.clinician2, 8)):
        for i in range(6):
            client = ClientFactory(practice=world.practice, first_name=f"C{base}{i}", last_name="Test")
            AssignmentFactory(practice=world.practice, client=client, clinician=clinician)
            answering = Answering(world, client=client, clinician=clinician, start=NOW - timedelta(days=60))
            for j in range(4):
                answering.alliance(base + (1 if (i + j) % 2 else 0) - (1 if i == 5 and j == 3 else 0))
    for subject in (None, world.clinician, world.clinician2):
        with world.scope():
            reports.compute_subject_reports(practice=world.practice, clinician=subject)


def test_my_trends_shows_figures_and_the_shrunk_comparison(world_a, as_member):
    _big_enough(world_a)
    page = as_member(world_a.clinician).get(world_a.url("reports/mine/")).content.decode()
    assert "Mean alliance index (0–10)" in page
    assert "adjusted for caseload size" in page
    assert "<title id=\"weekly-title\">" in page and "Show the figures per week as a table" in page
    assert 'style="' not in page
    # Another clinician's trends are not reachable by a clinician.
    other = world_a.url(f"reports/clinicians/{world_a.clinician2.pk}/")
    assert as_member(world_a.clinician).get(other).status_code == 404


def test_practice_report_lists_clinicians_by_name_with_intervals_and_csv(world_a, as_member):
    _big_enough(world_a)
    assert as_member(world_a.clinician).get(world_a.url("reports/practice/")).status_code == 404
    web = as_member(world_a.admin)
    page = web.get(world_a.url("reports/practice/")).content.decode()
    names = sorted([world_a.clinician.display_name, world_a.clinician2.display_name], key=str.lower)
    names = [escape(n) for n in names]
    assert page.index(names[0]) < page.index(names[1])
    assert "Response rates by channel" in page and "Instrument use" in page
    rows = list(csv.reader(io.StringIO(
        web.get(world_a.url("reports/practice/export/?table=clinicians")).content.decode())))
    listed = [r[0] for r in rows[1:]]
    assert listed == sorted(listed, key=str.lower) and len(listed) == 2
    shown = [r for r in rows[1:] if r[1] == "yes"]
    assert len(shown) == 2 and all(float(r[8]) <= float(r[7]) <= float(r[9]) for r in shown)
    for table in ("months", "channels", "instruments"):
        response = web.get(world_a.url(f"reports/practice/export/?table={table}"))
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert web.get(world_a.url("reports/practice/export/?table=nope")).status_code == 404
    with world_a.scope():
        assert AuditEvent.objects.filter(action="export").count() == 4


def test_supervision_opens_a_clinicians_trends_and_is_audited(world_a, as_member):
    _big_enough(world_a)
    url = world_a.url(f"reports/clinicians/{world_a.clinician2.pk}/")
    page = as_member(world_a.admin).get(url).content.decode()
    assert f"Trends for {world_a.clinician2.display_name}" in page
    assert "Caseload summary" in page and "8 clients in care" in page
    with world_a.scope():
        events = set(AuditEvent.objects.filter(target_id=world_a.clinician2.pk)
                     .values_list("action", flat=True))
    assert events == {"view_report", "view_caseload_summary"}
    # A client's membership id is not a clinician's trends page.
    assert as_member(world_a.admin).get(
        world_a.url(f"reports/clinicians/{world_a.client.membership_id}/")).status_code == 404


def test_report_pages_use_a_fixed_number_of_queries(world_a, as_member):
    _big_enough(world_a)
    web = as_member(world_a.admin)

    def count(url):
        with CaptureQueriesContext(connection) as ctx:
            assert web.get(url).status_code == 200
        return len(ctx.captured_queries)

    urls = [world_a.url("reports/practice/"), world_a.url("reports/mine/")]
    web.get(world_a.url())  # the session's first request does one-off work of its own
    before = [count(u) for u in urls]
    for i in range(3):
        extra = MembershipFactory(practice=world_a.practice, role=Membership.Role.CLINICIAN)
        with world_a.scope():
            reports.compute_subject_reports(practice=world_a.practice, clinician=extra)
    assert [count(u) for u in urls] == before



def test_a_deactivated_clinician_leaves_the_practice_report(world_a, as_member):
    _big_enough(world_a)
    with world_a.scope():
        Membership.objects.filter(pk=world_a.clinician2.pk).update(status=Membership.Status.INACTIVE)
    page = as_member(world_a.admin).get(world_a.url("reports/practice/")).content.decode()
    assert escape(world_a.clinician.display_name) in page
    assert escape(world_a.clinician2.display_name) not in page


def test_a_batch_of_clinicians_costs_the_queries_of_one_and_gives_the_same_figures(world_a):
    _big_enough(world_a)
    fields = ("clinician_id", "granularity", "period_start", "checkins", "clients", "index_mean",
              "index_sd", "client_mean_mean", "client_mean_sd", "ruptures_detected",
              "median_hours_to_acknowledge", "invitations_sent", "instruments", "channels")

    def rows():
        with world_a.scope():
            return sorted(ReportSnapshot.objects.filter(clinician__isnull=False).values_list(*fields),
                          key=repr)

    def queries(clinicians):
        with world_a.scope(), CaptureQueriesContext(connection) as ctx:
            reports.compute_reports(practice=world_a.practice, clinicians=clinicians, now=NOW)
        return len(ctx.captured_queries)

    staff = [world_a.clinician, world_a.clinician2]
    single = queries([world_a.clinician])
    assert queries(staff) == single
    with world_a.scope():
        for clinician in staff:
            reports.compute_subject_reports(practice=world_a.practice, clinician=clinician, now=NOW)
    one_by_one = rows()
    assert len(one_by_one) >= 6  # per clinician: months, weeks and the window
    with world_a.scope():
        reports.compute_reports(practice=world_a.practice, clinicians=staff, now=NOW)
    assert rows() == one_by_one
