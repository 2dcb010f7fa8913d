"""Load: 200 people submit their check-ins at the same moment to a real gunicorn (3 processes
x 4 threads, the production database pool, a Redis cache), 40 of them twice at once (a double
tap, two tabs). Each person is a thread that opens the link and posts the form with the CSRF
token from it, from their own loopback address (127.0.x.y), so the per-address rate limit on
check-in links stays on as in production.

Expected: no 5xx; every invitation answered exactly once; the duplicate posts are answered
with the same "Thank you" page and store nothing. Timings are printed (pytest -s) and recorded
in docs/reliability.md; they are figures, not assertions.
"""

import http.client
import os
import random
import re
import statistics
import threading
import time
from collections import Counter
from urllib.parse import urlencode

import pytest

from care.models import CaseloadAssignment
from feedback.models import Answer, CheckinInvitation, CheckinResponse
from feedback.testing import make_checkin
from feedback.tests.checkin_support import checkin_world
from portal.testing import AssignmentFactory, ClientFactory
from portal.tests.faults.conftest import figures, needs_redis_server
from portal.tests.faults.processes import Gunicorn

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True),
    needs_redis_server,
]
PEOPLE = 200
TWICE = 40  # of them post the form twice at the same moment
CLIENTS = 20  # 10 open check-ins each: one client's answers race each other's alerts
BASELINE = 5  # check-ins answered one after another first: the same server, unloaded
ITEMS = ("heard", "my-goals", "approach", "pace", "cared", "challenged", "say", "overall")
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Visit:
    """One person opening their link and sending the form."""

    def __init__(self, port: int, token: str, address: str, answers: dict):
        self.port, self.token, self.address, self.answers = port, token, address, answers
        self.results: list[tuple[str, int, float, str]] = []  # (method, status, seconds, page)
        self.error = ""

    def request(self, method, body=None, headers=None):
        # A connection per request: the person may think for longer than gunicorn keeps an
        # idle connection open (a browser then simply connects again).
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=120, source_address=(self.address, 0)
        )
        start = time.monotonic()
        try:
            conn.request(method, f"/c/{self.token}/", body=body, headers=headers or {})
            response = conn.getresponse()
            html = response.read().decode()
        finally:
            conn.close()
        page = ("thanks" if "<h1>Thank you</h1>" in html
                else "form" if "csrfmiddlewaretoken" in html else "other")
        self.results.append((method, response.status, time.monotonic() - start, page))
        return response, html

    def open(self):
        response, html = self.request("GET")
        cookie = response.headers.get("Set-Cookie", "")
        self.csrf_cookie = re.search(r"csrftoken=([^;]+)", cookie).group(1)
        self.csrf_form = CSRF_FIELD.search(html).group(1)

    def submit(self):
        body = urlencode({f"a-{k}": str(v) for k, v in self.answers.items()}
                         | {"csrfmiddlewaretoken": self.csrf_form})
        self.request("POST", body, {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={self.csrf_cookie}",
        })


def run(visits: list[Visit], pairs: dict[int, threading.Barrier]) -> float:
    """Everyone opens their link at once; a pair sends its two posts at once."""
    start_line = threading.Barrier(len(visits))

    def person(i, visit):
        try:
            start_line.wait(60)
            visit.open()
            if i in pairs:
                pairs[i].wait(60)
            visit.submit()
        except Exception as error:  # reported by the test, with the others' results
            visit.error = f"{type(error).__name__}: {error}"

    threads = [threading.Thread(target=person, args=(i, v)) for i, v in enumerate(visits)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return time.monotonic() - start


def percentile(values, share):
    values = sorted(values)
    return values[min(len(values) - 1, int(share * len(values)))]


def test_200_people_submit_at_once_nothing_lost_nothing_doubled_no_500s(
    world_a, broker, tmp_path, record_property
):
    world = checkin_world(world_a)
    for _ in range(CLIENTS - 1):
        client = ClientFactory(practice=world.practice)
        AssignmentFactory(practice=world.practice, client=client, clinician=world.clinician)
    clients = [a.client for a in CaseloadAssignment.unscoped.filter(clinician=world.clinician)
               .select_related("client")][:CLIENTS]
    invitations = [
        make_checkin(practice=world.practice, client=clients[i % CLIENTS],
                     clinician=world.clinician)
        for i in range(PEOPLE + BASELINE)
    ]
    invitations, alone = invitations[:PEOPLE], invitations[PEOPLE:]
    rng = random.Random(6)  # some low answers, so ruptures and alerts are part of the load
    answers = [{item: rng.choice([3, 6, 8, 9, 10]) for item in ITEMS} for _ in range(PEOPLE)]

    visits, pairs = [], {}
    for i, invitation in enumerate(invitations):
        address = f"127.0.{1 + i // 250}.{1 + i % 250}"
        visits.append(Visit(0, invitation.token, address, answers[i]))
        if i < TWICE:  # the same person, the same tab state, a second post at the same time
            visits.append(Visit(0, invitation.token, address, answers[i]))
            pairs[len(visits) - 2] = pairs[len(visits) - 1] = threading.Barrier(2)

    server = Gunicorn(tmp_path, redis_url=broker.url).start()
    try:
        solo = [Visit(server.port, inv.token, "127.0.0.250", answers[0]) for inv in alone]
        for visit in solo:
            visit.open()
            visit.submit()
        for visit in visits:
            visit.port = server.port
        load_before = os.getloadavg()[0]
        seconds = run(visits, pairs)
    finally:
        server.stop()
    log = server.log()

    errors = [v.error for v in visits if v.error]
    assert errors == [], (errors[:5], log[-3000:])
    statuses = Counter((method, status) for v in visits for method, status, _, _ in v.results)
    assert statuses == {("GET", 200): PEOPLE + TWICE, ("POST", 200): PEOPLE + TWICE}, (
        statuses, log[-3000:])
    assert " 500 " not in log and "Traceback" not in log
    pages = Counter(page for v in visits for method, _, _, page in v.results if method == "POST")
    assert pages == {"thanks": PEOPLE + TWICE}  # a duplicate post gets the same calm page

    # Nothing lost, nothing doubled.
    assert CheckinResponse.unscoped.count() == PEOPLE + BASELINE
    rows = list(CheckinInvitation.unscoped.filter(pk__in=[i.pk for i in invitations]))
    assert {r.status for r in rows} == {"completed"}
    assert len({r.response_id for r in rows}) == PEOPLE
    assert Answer.unscoped.count() == (PEOPLE + BASELINE) * len(ITEMS)
    # Each invitation holds its own person's answers (no mix-up between concurrent posts).
    by_response = {}
    for answer in Answer.unscoped.select_related("item"):
        by_response.setdefault(answer.response_id, {})[answer.item.key] = answer.value
    for row, expected in zip(sorted(rows, key=lambda r: r.pk), answers):
        assert by_response[row.response_id] == expected

    posts = [s for v in visits for m, _, s, _ in v.results if m == "POST"]
    gets = [s for v in visits for m, _, s, _ in v.results if m == "GET"]
    alone_posts = [s for v in solo for m, _, s, _ in v.results if m == "POST"]
    assert [status for v in solo for _, status, _, _ in v.results] == [200] * 2 * BASELINE
    figures(
        record_property, people=PEOPLE, double_posts=TWICE,
        requests=len(posts) + len(gets), seconds_total=round(seconds, 1),
        requests_per_second=round((len(posts) + len(gets)) / seconds, 1),
        post_p50=round(statistics.median(posts), 2), post_p95=round(percentile(posts, .95), 2),
        post_max=round(max(posts), 2), get_p50=round(statistics.median(gets), 2),
        get_p95=round(percentile(gets, .95), 2),
        post_alone_p50=round(statistics.median(alone_posts), 3),
        post_p50_over_alone=round(statistics.median(posts) / statistics.median(alone_posts), 1),
        load_average_before=round(load_before, 1), cores=os.cpu_count(),
    )
