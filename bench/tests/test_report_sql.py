"""The benchmark's hand-written SQL gives the same figures as the report service, row for row:
the comparison in docs/benchmarks.md is between two ways of computing one thing."""

import json

import pytest
from django.db import connection

from bench.report_sql import COLUMNS, report_rows
from feedback.models import ReportSnapshot
from feedback.services import reports
from feedback.tests.alerts_support import Answering
from feedback.tests.test_reports import NOW, at, fixture  # noqa: F401 (a pytest fixture)
from portal.rls.db import rls_bypass
from portal.testing import AssignmentFactory, ClientFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

FLOATS = {"index_mean", "index_sd", "client_mean_mean", "client_mean_sd"}
HOURS = {"median_hours_to_acknowledge", "median_hours_to_repair"}


def _service_rows(world) -> dict:
    with world.scope():
        reports.compute_reports(practice=world.practice, clinicians=None, now=NOW)
        reports.compute_reports(
            practice=world.practice, clinicians=list(reports.report_subjects()), now=NOW
        )
        rows = ReportSnapshot.objects.values(*COLUMNS)
        return {_key(row): row for row in rows}


def _sql_rows(world) -> dict:
    with rls_bypass(), connection.cursor() as cursor:
        rows = report_rows(cursor, NOW)
    return {_key(row): row for row in rows if row["practice_id"] == world.practice.pk}


def _key(row):
    return row["clinician_id"], row["granularity"], row["period_start"]


def _same(service: dict, sql: dict) -> None:
    for column in COLUMNS:
        mine, theirs = service[column], sql[column]
        if column in ("channels", "instruments") and isinstance(theirs, str):
            theirs = json.loads(theirs)
        if column in FLOATS and mine is not None:
            assert theirs == pytest.approx(mine, rel=1e-9), column
        elif column in HOURS and mine is not None:
            assert theirs == pytest.approx(mine, abs=0.011), column  # rounding half-way
        elif column == "channels" and service["granularity"] != "window":
            continue  # the service stores {} where the statement has no value
        elif column == "instruments" and service["granularity"] != "window":
            continue
        else:
            assert theirs == mine, column


def test_the_statement_gives_every_row_the_service_writes(fixture):  # noqa: F811
    # A client seen by the second clinician too, and a check-in of someone no longer on the
    # staff: the practice counts both, the clinicians only their own.
    shared = ClientFactory(practice=fixture.practice, first_name="Dot", last_name="Test")
    AssignmentFactory(practice=fixture.practice, client=shared, clinician=fixture.clinician2)
    Answering(fixture, client=shared, clinician=fixture.clinician2).alliance(7, at=at(11, 4))
    Answering(fixture, client=shared, clinician=fixture.clinician2).alliance(9, at=at(11, 12))

    service, sql = _service_rows(fixture), _sql_rows(fixture)

    assert len(service) > 10  # weeks, months and windows of three subjects or more
    assert set(sql) == set(service)
    for key, row in service.items():
        _same(row, sql[key])
    practice_window = next(row for key, row in service.items() if key[:2] == (None, "window"))
    assert practice_window["checkins"] == 7 and practice_window["clients"] == 4
