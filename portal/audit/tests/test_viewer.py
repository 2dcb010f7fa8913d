"""The admin's audit log: what it shows (and does not), filters, paging in constant queries,
CSV export (itself audited)."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.audit.services import record_event
from portal.testing import UserFactory

Action = AuditEvent.Action


def url(world, suffix=""):
    return world.url(f"audit/{suffix}")


def shown(response) -> str:
    """The listed events (the table), not the filter form's option labels."""
    assert response.status_code == 200
    page = response.content.decode()
    if "<tbody>" not in page:
        return page[page.index("</form>"):]  # the message under the filters
    return page[page.index("<tbody>"):page.index("</tbody>")]


@pytest.fixture
def log(world_a, world_b):
    """Events of A, of B, and account events of a member of A and of an outsider."""
    a, b = world_a, world_b
    record_event(practice=a.practice, actor=a.clinician.user, action=Action.VIEW_PLAN,
                 target=a.client)
    record_event(practice=b.practice, actor=b.clinician.user, action=Action.VIEW_PLAN,
                 target=b.client)
    record_event(practice=None, actor=a.clinician2.user, action=Action.MFA_ADDED,
                 detail={"type": "totp"})
    outsider = UserFactory(email="outsider@example.test")
    record_event(practice=None, actor=outsider, action=Action.MFA_REMOVED)
    return a, b


def test_only_admins_see_the_log(world_a, as_member):
    for member in (world_a.clinician, world_a.client.membership):
        http = as_member(member)
        assert http.get(url(world_a)).status_code == 404
        assert http.get(url(world_a, "export.csv")).status_code == 404
    assert not AuditEvent.unscoped.filter(action=Action.VIEW_AUDIT_LOG).exists()


def test_the_log_shows_the_practice_and_its_members_account_events(log, as_member):
    a, b = log
    page = shown(as_member(a.admin).get(url(a)))
    assert a.clinician.user.email in page and "Viewed treatment plan" in page
    assert f"care.client #{a.client.pk}" in page
    assert a.clinician2.user.email in page and "Two-factor method added" in page
    assert b.clinician.user.email not in page  # another practice's event
    assert "outsider@example.test" not in page  # an account event of a non-member
    viewed = AuditEvent.unscoped.get(action=Action.VIEW_AUDIT_LOG)
    assert viewed.practice_id == a.practice.pk and viewed.actor_id == a.admin.user_id


def test_filters_narrow_the_list(log, as_member):
    a, _ = log
    http = as_member(a.admin)
    by_action = shown(http.get(url(a), {"action": Action.MFA_ADDED}))
    assert "Two-factor method added" in by_action and "Viewed treatment plan" not in by_action
    by_actor = shown(http.get(url(a), {"actor": a.clinician.user_id}))
    assert a.clinician.user.email in by_actor and a.clinician2.user.email not in by_actor
    by_type = shown(http.get(url(a), {"target_type": "care.client"}))
    assert f"care.client #{a.client.pk}" in by_type and "Two-factor" not in by_type
    today = timezone.localdate()
    past = shown(http.get(url(a), {"until": (today - timedelta(days=1)).isoformat()}))
    assert "No events match" in past
    assert "Viewed treatment plan" in shown(http.get(url(a), {"since": today.isoformat()}))
    recorded = AuditEvent.unscoped.filter(action=Action.VIEW_AUDIT_LOG).order_by("pk")
    assert [e.detail["filters"] for e in recorded] == [
        ["action"], ["actor"], ["target_type"], ["until"], ["since"],
    ]


def test_bad_filters_show_nothing_rather_than_everything(log, as_member):
    a, b = log
    http = as_member(a.admin)
    response = http.get(url(a), {"since": "2026-03-02", "until": "2026-03-01"})
    assert "start date is after the end date" in response.content.decode()
    assert "no events are shown" in shown(response)
    # An actor from another practice is not a choice: refused, not looked up.
    response = http.get(url(a), {"actor": b.clinician.user_id})
    assert "Select a valid choice" in response.content.decode()
    assert "no events are shown" in shown(response)


def _add_events(world, n):
    AuditEvent.unscoped.bulk_create(
        AuditEvent(practice=world.practice, actor=world.clinician.user,
                   actor_email=world.clinician.user.email, action=Action.VIEW_CLIENT,
                   target_type="care.client", target_id=world.client.pk)
        for _ in range(n)
    )


def _queries(http, path) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert http.get(path).status_code == 200
    return len(captured)


def test_the_page_runs_the_same_number_of_queries_for_10_or_500_events(world_a, as_member):
    http = as_member(world_a.admin)
    _queries(http, url(world_a))  # the session's first request does its own set-up
    _add_events(world_a, 10)
    few = _queries(http, url(world_a))
    _add_events(world_a, 490)
    many = _queries(http, url(world_a))
    assert few == many
    page_2 = http.get(url(world_a), {"page": 2}).content.decode()
    assert "Page 2 of 11" in page_2 and page_2.count("<tr>") == 1 + 50


def test_csv_export_is_complete_safe_and_audited(world_a, as_member):
    record_event(practice=world_a.practice, actor=world_a.admin.user, action=Action.EXPORT,
                 target_type="=cmd|'/c calc'!A1", detail={"rows": 2})
    _add_events(world_a, 3)
    response = as_member(world_a.admin).get(url(world_a, "export.csv"),
                                            {"action": Action.VIEW_CLIENT})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["time_utc", "actor_email", "action"]
    assert [r[2] for r in rows[1:]] == ["view_client"] * 3
    everything = as_member(world_a.admin).get(url(world_a, "export.csv")).content.decode()
    assert "'=cmd" in everything  # a formula is written as text
    total = len(list(csv.reader(io.StringIO(everything)))) - 1
    exports = AuditEvent.unscoped.filter(action=Action.EXPORT, target_type="").order_by("pk")
    assert [e.detail for e in exports] == [
        {"kind": "audit_log", "rows": 3, "filters": ["action"]},
        {"kind": "audit_log", "rows": total, "filters": []},
    ]
    assert total >= 5  # the three, the planted one, the first export's own event
