"""`make bench`: seed small, measure, seed large, measure, write docs/benchmarks.md and .json.

    python -m bench.run [--small-only] [--reuse-large] [--requests N] [--dispatch N]

Needs PostgreSQL and Redis: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/
rapport_bench; the database is wiped) and REDIS_URL (default redis://127.0.0.1:6379/12).
Everything is measured in the same run and reported as ratios to a baseline measured in that
run (DESIGN.md: "Benchmarks, not timed tests"):

1. query count of every main page, as the practice admin, the bench clinician and a client;
2. p50/p95 latency of pages and the check-in submit under a threaded load generator against
   gunicorn, divided by a trivial signed-in view (bench/urls.py);
3. trend reports for every clinician vs the same rows by one SQL statement (bench/reportjob.py);
4. invitation dispatch through a real Celery worker on Redis into a local SMTP sink vs a raw
   INSERT ... SELECT of the same rows.
"""

import argparse
import http.client
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/rapport_bench",
    "REDIS_URL": "redis://127.0.0.1:6379/12",
    "RAPPORT_VAR_DIR": str(ROOT / "var" / "bench"),
}
# Production-like: DEBUG off (no query logging), a fixed bench-only key shared by every process
# (check-in tokens are HMACs under it), plain HTTP on loopback.
FIXED = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-not-for-any-real-deployment-0123456789",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "SECURE_SSL_REDIRECT": "0",
    "SITE_URL": "http://127.0.0.1",
    "LOG_LEVEL": "WARNING",
}
TARGETS = {"page": 10.0, "submit": 5.0, "report": 2.0, "dispatch_per_s": 500.0}
UTC = dt_timezone.utc


def configure_env() -> None:
    for key, value in DEFAULTS.items():
        if not os.environ.get(key):
            os.environ[key] = value
    os.environ.update(FIXED)
    os.environ.setdefault("DATABASE_POOL", "0")  # this process; gunicorn gets the default
    # STATIC_ROOT, so whitenoise does not warn about it in every process.
    (Path(os.environ["RAPPORT_VAR_DIR"]) / "static").mkdir(parents=True, exist_ok=True)


def ensure_database() -> None:
    """Create the benchmark database if it does not exist yet."""
    import psycopg
    from urllib.parse import urlsplit

    url = urlsplit(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def machine() -> dict:
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgresql": pg,
        "os": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        # Other work on the machine skews absolute numbers (ratios less so): recorded.
        "load_average_at_start": list(os.getloadavg()),
    }


# --- sessions for the load generator ------------------------------------------------------------


def session_cookie(user) -> str:
    """A signed-in session for `user`, made in-process (SessionStore via force_login) and
    warmed by one request so the session policy's first-request writes are behind us."""
    from django.conf import settings
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(user)
    client.get("/bench/ping/")
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def enroll_mfa(users) -> None:
    """Staff must have a second factor to see practice pages (accounts.mfa), as they would."""
    try:
        from accounts.mfa import enroll_totp
    except ImportError:
        return
    for user in users:
        enroll_totp(user)


# --- 1. query counts ----------------------------------------------------------------------------


def tenant_url_names() -> list[tuple[str, str, tuple]]:
    """(namespace, name, captured keywords) of every named URL under /p/<practice_slug>/."""
    from django.urls import URLResolver, get_resolver

    found = []

    def walk(patterns, namespaces, captured):
        for entry in patterns:
            here = captured + tuple(entry.pattern.regex.groupindex)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns,
                     namespaces + ((entry.namespace,) if entry.namespace else ()), here)
            elif entry.name and "practice_slug" in here:
                found.append((":".join(namespaces), ":".join(namespaces + (entry.name,)),
                              tuple(k for k in here if k != "practice_slug")))

    walk(get_resolver().url_patterns, (), ())
    return found


def page_targets(state: dict) -> list[tuple[str, str, str]]:
    """(role, URL name, path) of every GET page under /p/<slug>/ that needs at most a client
    id: staff pages for the admin and the bench clinician (about the bench client), the
    client's own pages for the client. New pages (reports, trends) join automatically."""
    from django.urls import NoReverseMatch, reverse

    slug, client_id = state["practice"]["slug"], state["client"]["id"]
    found = []
    for namespace, name, captured in tenant_url_names():
        if not set(captured) <= {"client_id"}:
            continue
        kwargs = {"practice_slug": slug}
        if "client_id" in captured:
            kwargs["client_id"] = client_id
        try:
            path = reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
        roles = ["client"] if namespace == "my" else ["admin", "clinician"]
        if name == "practice_home":
            roles = ["admin", "clinician", "client"]
        for role in roles:
            found.append((role, name, path))
    return sorted(set(found))


def query_counts(state: dict) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    enroll_mfa(User.objects.filter(pk__in=[state["admin"]["user"], state["clinician"]["user"]]))
    clients = {}
    for role in ("admin", "clinician", "client"):
        # A page that raises is recorded as such, not the end of the benchmark.
        c = Client(SERVER_NAME="127.0.0.1", raise_request_exception=False)
        c.force_login(User.objects.get(pk=state[role]["user"]))
        c.get("/bench/ping/")
        clients[role] = c
    counts = {}
    for role, name, path in page_targets(state):
        c = clients[role]
        c.get(path)  # warm: first-visit work (session refresh, caches) is not the page's
        with CaptureQueriesContext(connection) as queries:
            response = c.get(path)
        if response.status_code >= 500:
            counts[f"{role} {name}"] = {"path": path, "queries": None,
                                        "error": response.status_code}
        if response.status_code != 200:
            continue  # a form that needs more than a client, or not this role's page
        counts[f"{role} {name}"] = {"path": path, "queries": len(queries)}
    return counts


# --- 2. latency under load ----------------------------------------------------------------------


class Gunicorn:
    def __init__(self, port: int, workers: int):
        self.port, self.workers, self.proc = port, workers, None

    def __enter__(self):
        env = dict(os.environ)
        env.pop("DATABASE_POOL", None)  # the project's default (a pool per process)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "portal.wsgi:application", "--bind",
             f"127.0.0.1:{self.port}", "--workers", str(self.workers), "--log-level", "warning"],
            cwd=ROOT, env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                status, _ = request(self.port, "GET", "/bench/ping/", cookie="")
                if status in (200, 302):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def request(port: int, method: str, path: str, *, cookie: str, body: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Cookie": cookie, "Host": "127.0.0.1"}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, response


def load(port: int, make_request, *, total: int, concurrency: int, warmup: int) -> dict:
    """`total` requests from `concurrency` threads (each request a callable returning
    (method, path, cookie, body)); latencies in ms, measured by the client."""
    for i in range(warmup):
        method, path, cookie, body = make_request(i)
        request(port, method, path, cookie=cookie, body=body)
    latencies, statuses, lock = [], {}, threading.Lock()
    counter = iter(range(warmup, warmup + total))

    def worker():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            method, path, cookie, body = make_request(i)
            t0 = time.perf_counter()
            status, _ = request(port, method, path, cookie=cookie, body=body)
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "requests": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
        "rps": round(len(latencies) / wall, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


SUBMIT_KEY = "bench-submit:"


def open_checkins(state: dict, count: int) -> list[str]:
    """`count` open e-mailed check-ins for the bench clinician's clients (those without an
    alert, so submitting changes no alert), made as the product makes them; their tokens."""
    from feedback.models import CheckinInvitation
    from feedback.models import Alert
    from portal.tenancy.context import practice_scope
    from portal.tenancy.models import Practice

    remove_submit_checkins()
    practice = Practice.objects.get(pk=state["practice"]["id"])
    with practice_scope(practice):
        alerted = set(Alert.objects.values_list("client_id", flat=True))
        client_ids = [c for c in state["caseload_client_ids"]
                      if c not in alerted and c != state["client"]["id"]]
        now = datetime.now(UTC)
        invitations = []
        for n in range(count):
            invitation = CheckinInvitation(
                practice=practice, client_id=client_ids[n % len(client_ids)], plan=None,
                instrument_version_id=state["practice"]["version"],
                clinician_id=state["clinician"]["membership"],
                occurrence_key=f"{SUBMIT_KEY}{n}", channel=CheckinInvitation.Channel.EMAIL,
                due_at=now, expires_at=now + timedelta(days=1), created_at=now,
            )
            invitation.assign_new_token()
            invitations.append(invitation)
        CheckinInvitation.objects.bulk_create(invitations)
    return [i.token for i in invitations]


def remove_submit_checkins() -> None:
    """The submit benchmark's check-ins and what they created, so reruns start the same."""
    from feedback.models import CheckinInvitation, CheckinResponse

    invitations = CheckinInvitation.unscoped.filter(occurrence_key__startswith=SUBMIT_KEY)
    response_ids = list(invitations.exclude(response=None).values_list("response_id", flat=True))
    invitations.delete()
    CheckinResponse.unscoped.filter(pk__in=response_ids).delete()  # answers with them


def submit_body(state: dict) -> bytes:
    from feedback.models import InstrumentItem

    items = InstrumentItem.unscoped.filter(version_id=state["practice"]["version"])
    data = {}
    for item in items:
        if item.response_kind == "scale":
            data[f"a-{item.key}"] = "9"
        elif item.response_kind == "yes_no":
            data[f"a-{item.key}"] = "no"
    return data


def latency(state: dict, *, total: int, concurrency: int, workers: int, port: int) -> dict:
    from django.urls import NoReverseMatch, reverse

    from accounts.models import User

    users = {role: User.objects.get(pk=state[role]["user"]) for role in ("admin", "clinician")}
    enroll_mfa(users.values())
    cookies = {role: f"sessionid={session_cookie(u)}" for role, u in users.items()}
    slug, client_id = state["practice"]["slug"], state["client"]["id"]
    pages = {
        "trivial view (baseline)": ("clinician", "/bench/ping/"),
        f"caseload ({len(state['caseload_client_ids'])} clients)": ("clinician", f"/p/{slug}/"),
        "client page": ("clinician", reverse("care:client", kwargs={"practice_slug": slug,
                                                                   "client_id": client_id})),
        "client check-ins page": ("clinician", reverse(
            "feedback:client_checkins", kwargs={"practice_slug": slug, "client_id": client_id})),
    }
    for label, role, name in (("practice report", "admin", "feedback:practice_report"),
                              ("clinician trends", "clinician", "feedback:my_trends")):
        try:
            pages[label] = (role, reverse(name, kwargs={"practice_slug": slug}))
        except NoReverseMatch:
            pages[label] = None
    warmup = max(10, total // 20)
    tokens = open_checkins(state, total + warmup)
    form = submit_body(state)
    csrf = secrets.token_hex(16)  # an unmasked 32-character secret, as cookie and field
    body = urlencode({**form, "csrfmiddlewaretoken": csrf}).encode()
    results = {}
    with Gunicorn(port, workers):
        for label, spec in pages.items():
            if spec is None:
                results[label] = {"available": False}
                continue
            role, path = spec
            cookie = cookies[role]
            results[label] = load(port, lambda i, p=path, c=cookie: ("GET", p, c, None),
                                  total=total, concurrency=concurrency, warmup=warmup)
            results[label]["path"] = path
            log(f"  {label}: {results[label]}")
        results["check-in submit"] = load(
            port, lambda i: ("POST", f"/c/{tokens[i]}/", f"csrftoken={csrf}", body),
            total=total, concurrency=concurrency, warmup=warmup)
        log(f"  check-in submit: {results['check-in submit']}")
    remove_submit_checkins()
    base = results["trivial view (baseline)"]
    for label, row in results.items():
        if row.get("available") is False or label.startswith("trivial"):
            continue
        row["p50_ratio"] = round(row["p50_ms"] / base["p50_ms"], 2)
        row["p95_ratio"] = round(row["p95_ms"] / base["p95_ms"], 2)
        row["target"] = TARGETS["submit"] if label == "check-in submit" else TARGETS["page"]
        row["ok"] = bool(row["p50_ratio"] <= row["target"] and row["p95_ratio"] <= row["target"])
        row["ok_statuses"] = set(row["statuses"]) <= {"200"}
    return results


# --- 3. trend reports ---------------------------------------------------------------------------


def reports() -> dict:
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-m", "bench.reportjob"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        return {"available": False, "error": out.stderr.strip().splitlines()[-1:]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result.get("available"):
        result["ratio"] = round(result["report_seconds"] / result["sql_seconds"], 2)
        result["target"] = TARGETS["report"]
        result["ok"] = result["ratio"] <= TARGETS["report"]
    return result


# --- 4. invitation dispatch ---------------------------------------------------------------------

DISPATCH_MARK = 45  # duration of the sessions this benchmark adds (the seed's last 50 minutes)


def remove_dispatch_rows() -> None:
    """This benchmark's sessions and the invitations and e-mails made for them."""
    from care.models import TherapySession
    from feedback.models import CheckinInvitation

    sessions = TherapySession.unscoped.filter(duration_minutes=DISPATCH_MARK, created_by=None)
    CheckinInvitation.unscoped.filter(session__in=sessions).delete()  # e-mails with them
    sessions.delete()


def add_due_sessions(count: int) -> None:
    """`count` sessions attended a moment ago, dealt round-robin over the practices' clients
    with an active plan (a client may get several): each is one due occurrence, so one
    invitation and one e-mail."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH plans AS (
                SELECT mp.practice_id, mp.client_id,
                       row_number() OVER (ORDER BY row_number, practice_id) - 1 AS rn
                  FROM (SELECT mp.*, row_number() OVER (PARTITION BY mp.practice_id
                                                         ORDER BY mp.id) AS row_number
                          FROM feedback_measurementplan mp
                          JOIN care_client c ON c.id = mp.client_id AND c.discharged_at IS NULL
                         WHERE mp.status = 'active') mp
            ), total AS (SELECT count(*) AS n FROM plans)
            INSERT INTO care_therapysession (practice_id, client_id, clinician_id, starts_at,
                duration_minutes, status, modality, created_by_id, created_at)
            SELECT p.practice_id, p.client_id,
                   (SELECT clinician_id FROM care_caseloadassignment
                     WHERE client_id = p.client_id AND ended_at IS NULL ORDER BY id LIMIT 1),
                   now() - interval '60 minutes' - (g.n / total.n) * interval '1 second',
                   %s, 'attended', 'video', NULL, now()
              FROM generate_series(0, %s - 1) AS g(n)
             CROSS JOIN total
              JOIN plans p ON p.rn = g.n %% total.n
            """,
            [DISPATCH_MARK, count],
        )


RAW_INSERT = """
INSERT INTO feedback_checkininvitation (practice_id, client_id, plan_id, instrument_version_id,
    session_id, clinician_id, occurrence_key, channel, status, nonce, token_hash, due_at,
    expires_at, created_at)
SELECT s.practice_id, s.client_id, mp.id, v.id, s.id, s.clinician_id, 'session:' || s.id, 'email',
       'open', md5(random()::text), encode(sha256(random()::text::bytea), 'hex'),
       s.starts_at + s.duration_minutes * interval '1 minute',
       s.starts_at + s.duration_minutes * interval '1 minute' + mp.expiry_days * interval '1 day',
       now()
  FROM care_therapysession s
  JOIN feedback_measurementplan mp ON mp.client_id = s.client_id AND mp.status = 'active'
  JOIN LATERAL (SELECT id FROM feedback_instrumentversion WHERE instrument_id = mp.instrument_id
                 ORDER BY number DESC LIMIT 1) v ON true
 WHERE s.duration_minutes = %s AND s.created_by_id IS NULL;
INSERT INTO feedback_checkinemail (practice_id, invitation_id, kind, status, not_before,
    dispatched_at, attempts, last_attempt_at, sent_at, reason, created_at)
SELECT i.practice_id, i.id, 'invite', 'sent', now(), now(), 1, now(), now(), '', now()
  FROM feedback_checkininvitation i JOIN care_therapysession s ON s.id = i.session_id
 WHERE s.duration_minutes = %s AND s.created_by_id IS NULL;
"""


def raw_insert_seconds() -> float:
    """The same rows (invitations and their sent e-mails) by INSERT ... SELECT, rolled back."""
    from django.db import connection, transaction

    first, second = RAW_INSERT.strip().split(";\n", 1)
    with transaction.atomic():
        with connection.cursor() as cursor:
            t0 = time.perf_counter()
            cursor.execute(first, [DISPATCH_MARK])
            cursor.execute(second.rstrip(";\n"), [DISPATCH_MARK])
            elapsed = time.perf_counter() - t0
        transaction.set_rollback(True)
    return elapsed


def dispatch(count: int, *, concurrency: int) -> dict:
    import redis as redis_lib
    from django.db import connection

    sys.path.insert(0, str(ROOT))
    from feedback.tests.smtp_sink import SmtpSink

    remove_dispatch_rows()
    add_due_sessions(count)
    raw = raw_insert_seconds()
    broker = redis_lib.Redis.from_url(os.environ["REDIS_URL"])
    broker.delete("celery")  # nothing left over from an earlier run
    sink = SmtpSink().start()
    env = dict(os.environ)
    env.update(DJANGO_SETTINGS_MODULE="portal.settings", EMAIL_HOST="127.0.0.1",
               EMAIL_PORT=str(sink.port), EMAIL_USE_TLS="0", EMAIL_USE_SSL="0")
    env.pop("DATABASE_POOL", None)
    ready = threading.Event()
    output: list[str] = []
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO",
         "--concurrency", str(concurrency), "--without-heartbeat", "--without-gossip",
         "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def read():
        for line in worker.stdout:
            if " ready." in line:
                ready.set()
            if "ERROR" in line or "Traceback" in line or len(output) < 5:
                output.append(line)

    threading.Thread(target=read, daemon=True).start()
    result = {"invitations": count, "worker_concurrency": concurrency,
              "raw_insert_select_seconds": round(raw, 4)}
    try:
        if not ready.wait(60):
            raise RuntimeError("the Celery worker did not start:\n" + "".join(output))
        from feedback.tasks import dispatch_due_checkins

        t0 = time.perf_counter()
        dispatch_due_checkins.delay()  # the beat job: fan out per practice, then one send per e-mail
        created_at = None
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*), count(*) FILTER (WHERE e.status = 'sent') "
                    "FROM feedback_checkinemail e JOIN feedback_checkininvitation i ON "
                    "i.id = e.invitation_id JOIN care_therapysession s ON s.id = i.session_id "
                    "WHERE s.duration_minutes = %s AND s.created_by_id IS NULL", [DISPATCH_MARK])
                queued, sent = cursor.fetchone()
            if created_at is None and queued >= count:
                created_at = time.perf_counter() - t0
            if sent >= count:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - t0
        result.update(
            seconds=round(elapsed, 2), invitations_created_seconds=round(created_at or 0, 2),
            sent=sent, smtp_messages=len(sink.messages),
            per_second=round(sent / elapsed, 1),
            ratio_to_raw=round(elapsed / raw, 1) if raw else None,
            target_per_second=TARGETS["dispatch_per_s"],
        )
        result["ok"] = result["per_second"] >= TARGETS["dispatch_per_s"] and sent == count
        if output and any("ERROR" in line for line in output):
            result["worker_errors"] = output[-5:]
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        sink.stop()
        remove_dispatch_rows()
    return result


# --- orchestration ------------------------------------------------------------------------------


def measure(state: dict, args) -> dict:
    out = {"scale": state["scale"], "rows": state["rows"], "seed_seconds": state["seconds"]}
    log("query counts")
    out["query_counts"] = query_counts(state)
    skip = set(filter(None, args.skip.split(",")))
    if "latency" not in skip:
        log("latency under load")
        out["latency"] = latency(state, total=args.requests, concurrency=args.concurrency,
                                 workers=args.workers, port=args.port)
    if "reports" not in skip:
        log("trend reports")
        out["reports"] = reports()
        log(f"  {out['reports']}")
    if "dispatch" not in skip:
        log("invitation dispatch")
        out["dispatch"] = dispatch(args.dispatch, concurrency=args.worker_concurrency)
        log(f"  {out['dispatch']}")
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="make bench")
    parser.add_argument("--small-only", action="store_true", help="skip the large scale")
    parser.add_argument("--reuse-large", action="store_true",
                        help="measure the large data already seeded (if it is there)")
    parser.add_argument("--requests", type=int, default=400, help="per endpoint")
    parser.add_argument("--concurrency", type=int, default=4, help="load generator threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--dispatch", type=int, default=2000, help="invitations to dispatch")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--skip", default="", help="comma list of latency,reports,dispatch")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"))
    args = parser.parse_args(argv)

    configure_env()
    ensure_database()
    import django

    django.setup()
    from bench import report, seed

    results = {"machine": machine(), "settings": vars(args), "scales": {}}
    # Seeding wipes the database: reused large data is measured first, then small is seeded.
    order = ("large", "small") if args.reuse_large else ("small", "large")
    for name in order:
        if name == "large" and args.small_only:
            continue
        scale = seed.SCALES[name]
        state = None
        if name == "large" and args.reuse_large and seed.state_path().exists():
            state = json.loads(seed.state_path().read_text())
            if state["scale"]["name"] != "large":
                state = None
        if state is None:
            log(f"seeding {name}")
            state = seed.seed(scale)
        results["scales"][name] = measure(state, args)
        results["scales"][name]["load_average"] = list(os.getloadavg())
        results["machine"]["load_average_at_end"] = list(os.getloadavg())
        report.write(results, Path(args.out))  # after each scale: a long run keeps what it has
    results["machine"]["load_average_at_end"] = list(os.getloadavg())
    report.write(results, Path(args.out))
    log(f"wrote {args.out}.md and {args.out}.json")


if __name__ == "__main__":
    main()
