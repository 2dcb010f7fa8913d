"""Synthetic practice-network data for benchmarks, loaded with PostgreSQL COPY (psycopg 3).

    python -m bench.seed [--small | --large] [--practices N --clinicians N --clients N --checkins N]

Wipes the benchmark database (DATABASE_URL; refuses any database whose name lacks "bench"),
then builds: practices (with the shipped instruments and their feedback settings), users,
memberships (one admin per practice, clinicians, clients), clients, caseload assignments, one
e-mailed every-session measurement plan per client, and per client a weekly history of attended
sessions, each with its check-in: invitation, invitation e-mail, response with scores and
answers (most completed, some expired), plus rupture alerts for some clients.

One clinician of the first practice (the "bench clinician") has exactly `caseload` clients;
everything the measurements need is written to <RAPPORT_VAR_DIR>/bench_state.json.

Ids are assigned here, so rows can point at each other without round trips. Foreign-key
triggers are off during the load (session_replication_role = replica) for speed; unique and
check constraints still apply, and every foreign key is verified by an anti-join afterwards.
"""

import argparse
import hashlib
import json
import os
import random
import secrets
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

UTC = dt_timezone.utc
NONCE_BYTES = 16


@dataclass(frozen=True)
class Scale:
    name: str
    practices: int
    clinicians: int  # across all practices
    clients: int  # across all practices
    checkins: int  # check-in invitations across all clients (one per attended session)
    caseload: int  # clients of the bench clinician
    alert_share: float = 0.05  # clients with a rupture alert


SCALES = {
    "large": Scale("large", practices=20, clinicians=500, clients=20_000, checkins=1_000_000,
                   caseload=200),
    "small": Scale("small", practices=2, clinicians=10, clients=100, checkins=1_000, caseload=20),
}

FIRST = ["Alex", "Sam", "Robin", "Kim", "Jo", "Noa", "Eli", "Mika", "Lou", "Ari", "Jules", "Remy",
         "Sasha", "Toni", "Yael", "Quinn", "Nico", "Billie", "Charlie", "Dani"]
LAST = ["Keller", "Novak", "Silva", "Moreau", "Larsen", "Costa", "Weber", "Kowalski", "Rossi",
        "Jensen", "Dubois", "Horvat", "Nieminen", "Ortiz", "Fischer", "Brennan", "Varga", "Lind"]
CORE_KEYS = ["heard", "my-goals", "approach", "pace", "cared", "challenged", "say", "overall"]
SUBSCALES = {"bond": ["heard", "cared"], "goals": ["my-goals", "say"],
             "tasks": ["approach", "pace", "challenged"]}


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()


def state_path() -> Path:
    from django.conf import settings

    return Path(settings.VAR_DIR) / "bench_state.json"


def dsn() -> str:
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return " ".join(f"{k}={v}" for k, v in params.items() if v not in (None, ""))


# --- COPY with the models' own defaults ---------------------------------------------------------


class Table:
    """A COPY into one model's table: the given columns, plus every other column that has a
    Django default (as a constant). A NOT NULL column with neither fails before any row is
    written, so a field added to a model later is noticed rather than silently loaded wrong."""

    def __init__(self, conn, model, columns: list[str]):
        from django.db.models import JSONField

        self.model = model
        self.conn = conn
        given = set(columns)
        extra_cols, extra_vals = [], []
        for field in model._meta.concrete_fields:
            if field.column in given or field.primary_key:
                continue
            # What Django itself would insert: the default, else "" for a text column.
            value = field.get_default() if field.has_default() or not field.null else None
            if value is not None:
                if isinstance(field, JSONField):
                    value = json.dumps(value)
                extra_cols.append(field.column)
                extra_vals.append(value)
            elif not field.null:
                raise RuntimeError(
                    f"bench.seed: {model.__name__}.{field.name} is NOT NULL without a default; "
                    "teach bench/seed.py what to put there."
                )
        self.columns = columns + extra_cols
        self.extra = tuple(extra_vals)
        self.count = 0

    def __enter__(self):
        self.cursor = self.conn.cursor()
        cols = ", ".join(f'"{c}"' for c in self.columns)
        self._copy_cm = self.cursor.copy(f'COPY "{self.model._meta.db_table}" ({cols}) FROM STDIN')
        self.copy = self._copy_cm.__enter__()
        return self

    def write(self, row: tuple) -> None:
        self.copy.write_row(row + self.extra)
        self.count += 1

    def __exit__(self, *exc):
        return self._copy_cm.__exit__(*exc)


def model_has(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.concrete_fields)


# --- wiping -------------------------------------------------------------------------------------


def wipe(conn) -> None:
    from django.apps import apps
    from django.db import connection

    existing = set(connection.introspection.table_names())
    keep = {"django_migrations", "django_content_type", "auth_permission"}
    tables = sorted(
        {m._meta.db_table for m in apps.get_models(include_auto_created=True)} & existing - keep
    )
    from portal.audit.triggers import TRUNCATE_FLAG

    with conn.transaction(), conn.cursor() as cur:
        # The audit log refuses TRUNCATE unless this transaction says it is a deliberate wipe.
        cur.execute("SELECT set_config(%s, 'on', true)", [TRUNCATE_FLAG])
        cur.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    conn.commit()


# --- the seed -----------------------------------------------------------------------------------


def split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def make_practices(scale: Scale) -> list[dict]:
    """Practices through the ORM and the real installer (few rows, and the instruments must be
    exactly what the product ships)."""
    from feedback.models import FeedbackSettings, Instrument, InstrumentItem, InstrumentVersion
    from feedback.services import install_standard_instruments
    from portal.tenancy.models import Practice

    out = []
    for i in range(scale.practices):
        practice = Practice.objects.create(
            name=f"Bench Practice {i + 1:02d}", slug=f"bench-{i + 1:02d}", time_zone="UTC"
        )
        install_standard_instruments(practice)
        # No quiet hours: the dispatch benchmark must not depend on the hour it runs at.
        FeedbackSettings.unscoped.create(
            practice=practice, quiet_hours_start=None, quiet_hours_end=None
        )
        instrument = Instrument.unscoped.get(practice=practice, key="session-checkin")
        version = InstrumentVersion.unscoped.filter(instrument=instrument).order_by("-number")[0]
        items = {
            item.key: item.pk for item in InstrumentItem.unscoped.filter(version=version)
        }
        out.append({"id": practice.pk, "slug": practice.slug, "instrument": instrument.pk,
                    "version": version.pk, "items": items})
    return out


def seed(scale: Scale, *, verbose: bool = True) -> dict:
    import psycopg
    from django.conf import settings
    from django.db import connection

    from accounts.models import Membership, User
    from care.models import CaseloadAssignment, Client, TherapySession
    from feedback.models import (
        Alert,
        Answer,
        CheckinEmail,
        CheckinInvitation,
        CheckinResponse,
        MeasurementPlan,
    )

    if connection.vendor != "postgresql":
        raise SystemExit("bench.seed needs PostgreSQL: set DATABASE_URL.")
    if "bench" not in settings.DATABASES["default"]["NAME"]:
        raise SystemExit("bench.seed wipes its database: use one whose name contains 'bench'.")

    def say(msg):
        if verbose:
            print(f"[seed {scale.name}] {msg}", flush=True)

    from django.core.management import call_command

    t0 = time.perf_counter()
    timings = {}
    try:
        call_command("migrate", verbosity=0)  # the tree moves on: bring the bench database along
    except Exception as error:  # noqa: BLE001 - report and go on with the schema there is
        print(f"bench.seed: migrate failed ({type(error).__name__}: {error}); seeding the "
              "schema as it is", file=sys.stderr)
    rng = random.Random(7)
    now = datetime.now(UTC).replace(microsecond=0)
    conn = psycopg.connect(dsn(), autocommit=True)  # transaction() then commits for real
    wipe(conn)
    practices = make_practices(scale)
    timings["practices"] = time.perf_counter() - t0
    say(f"{len(practices)} practices with instruments")

    with conn.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET session_replication_role = replica")  # FK triggers off (checked below)
        cur.execute("SELECT coalesce(max(id), 0) FROM accounts_user")
        user_id = cur.fetchone()[0]
        cur.execute("SELECT coalesce(max(id), 0) FROM accounts_membership")
        membership_id = cur.fetchone()[0]

    # --- people ---------------------------------------------------------------------------------
    clinicians_per = split(scale.clinicians, scale.practices)
    clients_per = split(scale.clients, scale.practices)
    people = []  # (practice index, role, user id, membership id, email, first, last)
    for p_index, practice in enumerate(practices):
        roles = [Membership.Role.ADMIN] + [Membership.Role.CLINICIAN] * clinicians_per[p_index]
        roles += [Membership.Role.CLIENT] * clients_per[p_index]
        for role in roles:
            user_id += 1
            membership_id += 1
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{role[:2]}{user_id}@{practice['slug']}.bench.invalid"
            people.append((p_index, role, user_id, membership_id, email, first, last))

    joined = now - timedelta(days=400)
    with conn.transaction():
        with Table(conn, User, ["id", "password", "email", "first_name", "last_name",
                                "is_active", "is_staff", "is_superuser", "date_joined"]) as t:
            for _, _, uid, _, email, first, last in people:
                # An unusable password: the load generator signs in by session cookie.
                t.write((uid, "!bench", email, first, last, True, False, False, joined))
        with Table(conn, Membership, ["id", "practice_id", "user_id", "email", "role", "status",
                                      "created_at", "status_changed_at"]) as t:
            for p_index, role, uid, mid, email, _, _ in people:
                t.write((mid, practices[p_index]["id"], uid, email, role, "active", joined, joined))
    timings["people"] = time.perf_counter() - t0
    say(f"{len(people)} users and memberships")

    # --- clients, caseloads, plans ----------------------------------------------------------------
    by_practice = [{"admin": None, "clinicians": [], "clients": []} for _ in practices]
    for p_index, role, uid, mid, email, first, last in people:
        slot = by_practice[p_index]
        if role == Membership.Role.ADMIN:
            slot["admin"] = (uid, mid)
        elif role == Membership.Role.CLINICIAN:
            slot["clinicians"].append((uid, mid))
        else:
            slot["clients"].append((uid, mid, first, last))

    client_rows = []  # (client id, practice index, membership id, primary clinician mid)
    assignments = []  # (practice index, client id, clinician mid)
    client_id = 0
    for p_index, slot in enumerate(by_practice):
        clinicians = [mid for _, mid in slot["clinicians"]]
        bench_first = p_index == 0
        for c_index, (_uid, mid, _first, _last) in enumerate(slot["clients"]):
            client_id += 1
            if bench_first and c_index < scale.caseload:
                primary = clinicians[0]  # the bench clinician: exactly `caseload` clients
            elif bench_first and len(clinicians) > 1:
                primary = clinicians[1 + c_index % (len(clinicians) - 1)]
            else:
                primary = clinicians[c_index % len(clinicians)]
            client_rows.append((client_id, p_index, mid, primary))
            assignments.append((p_index, client_id, primary))
            # One client in ten shares care with a second clinician (never the bench one).
            others = [m for m in clinicians if m != primary and not (bench_first and m == clinicians[0])]
            if c_index % 10 == 3 and others:
                assignments.append((p_index, client_id, rng.choice(others)))

    checkins_per = split(scale.checkins, len(client_rows))
    first_session = {}  # client id -> datetime of the first session
    bench_mid = by_practice[0]["clinicians"][0][1]
    # 2% discharged (their plans stopped), never among the bench clinician's caseload.
    discharged = {cid for cid, _p, _m, primary in client_rows
                  if cid % 50 == 17 and primary != bench_mid}
    with conn.transaction():
        with Table(conn, Client, ["id", "practice_id", "membership_id", "first_name", "last_name",
                                  "phone", "preferred_contact", "created_by_id", "created_at",
                                  "discharged_at"]) as t:
            names = {mid: (first, last) for slot in by_practice for _, mid, first, last in slot["clients"]}
            for (cid, p_index, mid, _primary), n in zip(client_rows, checkins_per):
                start = now - timedelta(days=7 * n + rng.randint(1, 6), hours=rng.randint(0, 8))
                first_session[cid] = start
                first, last = names[mid]
                t.write((cid, practices[p_index]["id"], mid, first, last, "", "email",
                         by_practice[p_index]["admin"][1], start - timedelta(days=1),
                         now - timedelta(days=1) if cid in discharged else None))
        with Table(conn, CaseloadAssignment, ["id", "practice_id", "client_id", "clinician_id",
                                              "started_at", "ended_at", "assigned_by_id"]) as t:
            for a_id, (p_index, cid, mid) in enumerate(assignments, start=1):
                t.write((a_id, practices[p_index]["id"], cid, mid, first_session[cid] - timedelta(days=1),
                         None, by_practice[p_index]["admin"][1]))
        with Table(conn, MeasurementPlan, ["id", "practice_id", "client_id", "instrument_id",
                                           "cadence", "every", "weekdays", "channel",
                                           "reminder_after_hours", "max_reminders", "expiry_days",
                                           "starts_on", "counting_from", "status", "created_by_id",
                                           "created_at", "updated_at", "status_changed_at"]) as t:
            for cid, p_index, _mid, primary in client_rows:
                created = first_session[cid] - timedelta(days=1)
                t.write((cid, practices[p_index]["id"], cid, practices[p_index]["instrument"],
                         "every_session", 1, "[]", "email", 24, 2, 4, created.date(), created,
                         "stopped" if cid in discharged else "active", primary, created, created,
                         created))
    timings["clients"] = time.perf_counter() - t0
    say(f"{len(client_rows)} clients, {len(assignments)} assignments, {len(client_rows)} plans")

    # --- the history: sessions, invitations, e-mails, responses, answers ------------------------
    tokens = TokenMaker()
    has_response_clinician = model_has(CheckinResponse, "clinician")
    response_cols = ["id", "practice_id", "client_id", "instrument_version_id", "session_id",
                     "channel", "respondent_id", "submitted_at", "total", "mean", "index",
                     "band_label", "subscale_scores", "safety_item_positive", "rupture_reported"]
    if has_response_clinician:
        response_cols.append("clinician_id")
    conns = {name: psycopg.connect(dsn(), autocommit=True) for name in ("s", "i", "e", "r", "a")}
    for c in conns.values():
        c.execute("SET synchronous_commit = off")
        c.execute("SET session_replication_role = replica")
    latest = {}  # client id -> (response id, index, submitted_at) of the latest response
    counts = {"sessions": 0, "invitations": 0, "responses": 0, "answers": 0}
    with ExitStack() as stack:
        for c in conns.values():
            stack.enter_context(c.transaction())
        sessions = stack.enter_context(Table(conns["s"], TherapySession, [
            "id", "practice_id", "client_id", "clinician_id", "starts_at", "duration_minutes",
            "status", "modality", "created_by_id", "created_at"]))
        invitations = stack.enter_context(Table(conns["i"], CheckinInvitation, [
            "id", "practice_id", "client_id", "plan_id", "instrument_version_id", "session_id",
            "clinician_id", "occurrence_key", "channel", "status", "nonce", "token_hash",
            "due_at", "expires_at", "created_at", "completed_at", "closed_at", "response_id"]))
        emails = stack.enter_context(Table(conns["e"], CheckinEmail, [
            "id", "practice_id", "invitation_id", "kind", "status", "not_before", "dispatched_at",
            "attempts", "last_attempt_at", "sent_at", "created_at"]))
        responses = stack.enter_context(Table(conns["r"], CheckinResponse, response_cols))
        answers = stack.enter_context(Table(conns["a"], Answer, [
            "id", "practice_id", "response_id", "item_id", "value", "text"]))
        sid = rid = aid = 0
        for (cid, p_index, mid, primary), n in zip(client_rows, checkins_per):
            practice = practices[p_index]
            pid, items = practice["id"], practice["items"]
            crng = random.Random(cid)
            baseline = min(9.8, max(4.0, crng.gauss(8.4, 0.8)))
            start = first_session[cid]
            for k in range(n):
                sid += 1
                starts_at = start + timedelta(days=7 * k, minutes=crng.randint(-90, 90))
                due = starts_at + timedelta(minutes=50)
                sessions.write((sid, pid, cid, primary, starts_at, 50, "attended", "in_person",
                                primary, starts_at - timedelta(days=6)))
                completed = crng.random() < 0.85
                nonce, token_hash = tokens.make()
                expires = due + timedelta(days=4)
                if completed:
                    rid += 1
                    submitted = due + timedelta(minutes=crng.randint(5, 2 * 24 * 60))
                    values = [min(10, max(0, round(crng.gauss(baseline, 1.0)))) for _ in CORE_KEYS]
                    mean = sum(values) / len(values)
                    by_key = dict(zip(CORE_KEYS, values))
                    subs = {s: sum(by_key[k2] for k2 in keys) / len(keys) for s, keys in SUBSCALES.items()}
                    rupture = crng.random() < 0.03
                    row = (rid, pid, cid, practice["version"], sid, "email", mid, submitted,
                           float(sum(values)), mean, mean, "", json.dumps(subs), False, rupture)
                    if has_response_clinician:
                        row += (primary,)
                    responses.write(row)
                    for key, value in by_key.items():
                        aid += 1
                        answers.write((aid, pid, rid, items[key], value, ""))
                    aid += 1
                    answers.write((aid, pid, rid, items["rupture"], 1 if rupture else 0, ""))
                    invitations.write((sid, pid, cid, cid, practice["version"], sid, primary,
                                       f"session:{sid}", "email", "completed", nonce, token_hash,
                                       due, expires, due, submitted, None, rid))
                    latest[cid] = (rid, mean, submitted)
                else:
                    invitations.write((sid, pid, cid, cid, practice["version"], sid, primary,
                                       f"session:{sid}", "email", "expired", nonce, token_hash,
                                       due, expires, due, None, expires, None))
                emails.write((sid, pid, sid, "invite", "sent", due, due, 1, due + timedelta(seconds=2),
                              due + timedelta(seconds=2), due))
            if sid and sid % 100_000 < n:
                say(f"  {sid} check-ins written ({time.perf_counter() - t0:.0f}s)")
        counts.update(sessions=sid, invitations=sid, responses=rid, answers=aid)
        stack.close()  # commits every COPY
    for c in conns.values():
        c.close()
    timings["history"] = time.perf_counter() - t0
    say(f"{sid} sessions/invitations/e-mails, {rid} responses, {aid} answers")

    # --- rupture alerts ---------------------------------------------------------------------------
    alert_count = 0
    with conn.transaction():
        with Table(conn, Alert, ["id", "practice_id", "client_id", "kind", "severity", "status",
                                 "response_id", "latest_response_id", "reasons", "hits",
                                 "pre_drop_level", "created_at", "updated_at", "acknowledged_at",
                                 "acknowledged_by_id", "acknowledgement_note"]) as t:
            stride = max(1, round(1 / scale.alert_share))
            for cid, p_index, _mid, primary in client_rows:
                if cid % stride or cid not in latest:
                    continue
                rid, index, at = latest[cid]
                alert_count += 1
                acknowledged = alert_count % 3 == 0
                reasons = [{"rule": "below_cutoff", "text": f"Alliance index {index:.1f} is below 9.0.",
                            "response_id": rid, "at": at.isoformat()}]
                t.write((alert_count, practices[p_index]["id"], cid, "rupture", 2,
                         "acknowledged" if acknowledged else "open", rid, rid, json.dumps(reasons),
                         1, min(10.0, index + 1), at, at,
                         at + timedelta(hours=20) if acknowledged else None,
                         primary if acknowledged else None,
                         "We talked about it." if acknowledged else ""))
    timings["alerts"] = time.perf_counter() - t0
    say(f"{alert_count} rupture alerts")

    # --- sequences, statistics, foreign keys ------------------------------------------------------
    loaded = [User, Membership, Client, CaseloadAssignment, MeasurementPlan, TherapySession,
              CheckinInvitation, CheckinEmail, CheckinResponse, Answer, Alert]
    with conn.cursor() as cur:
        for model in loaded:
            table = model._meta.db_table
            cur.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM \"{table}\"), false)")
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    timings["analyze"] = time.perf_counter() - t0
    broken = check_foreign_keys(conn, loaded)
    if broken:
        raise SystemExit(f"bench.seed: dangling foreign keys: {broken}")
    timings["fk_check"] = time.perf_counter() - t0
    conn.close()
    say(f"done in {time.perf_counter() - t0:.1f}s")

    bench_practice = by_practice[0]
    bench_clinician_mid = bench_practice["clinicians"][0][1]
    bench_client = next(c for c in client_rows if c[3] == bench_clinician_mid)
    state = {
        "scale": asdict(scale),
        "seeded_at": now.isoformat(),
        "seconds": round(time.perf_counter() - t0, 1),
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "rows": {"practices": len(practices), "users": len(people), "clients": len(client_rows),
                 "assignments": len(assignments), "plans": len(client_rows), **counts,
                 "checkin_emails": counts["invitations"], "alerts": alert_count},
        "practice": {"id": practices[0]["id"], "slug": practices[0]["slug"],
                     "instrument": practices[0]["instrument"], "version": practices[0]["version"]},
        "admin": {"user": bench_practice["admin"][0], "membership": bench_practice["admin"][1]},
        "clinician": {"user": bench_practice["clinicians"][0][0], "membership": bench_clinician_mid},
        "client": {"id": bench_client[0], "membership": bench_client[2],
                   "user": next(u for u, m, _, _ in bench_practice["clients"] if m == bench_client[2])},
        "caseload_client_ids": [c[0] for c in client_rows if c[3] == bench_clinician_mid],
    }
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2))
    return state


class TokenMaker:
    """Invitation nonces and token hashes exactly as CheckinInvitation.assign_new_token makes
    them (an HMAC under SECRET_KEY), so a seeded link would open the right invitation."""

    def __init__(self):
        from feedback.models import CheckinInvitation

        self.model = CheckinInvitation

    def make(self) -> tuple[str, str]:
        nonce = secrets.token_hex(NONCE_BYTES)
        token = self.model.token_for(nonce)
        return nonce, hashlib.sha256(token.encode()).hexdigest()


def check_foreign_keys(conn, models) -> dict:
    """Rows whose foreign key names nothing (the load ran without FK triggers)."""
    broken = {}
    with conn.cursor() as cur:
        for model in models:
            table = model._meta.db_table
            for field in model._meta.concrete_fields:
                if not field.is_relation:
                    continue
                target = field.related_model._meta.db_table
                cur.execute(
                    f'SELECT count(*) FROM "{table}" t WHERE t."{field.column}" IS NOT NULL AND '
                    f'NOT EXISTS (SELECT 1 FROM "{target}" r WHERE r.id = t."{field.column}")'
                )
                n = cur.fetchone()[0]
                if n:
                    broken[f"{table}.{field.column}"] = n
    return broken


def scale_from_args(argv=None) -> Scale:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--small", action="store_true", help="a few hundred rows (seconds)")
    size.add_argument("--large", action="store_true", help="20 practices, 1M check-ins (default)")
    for name in ("practices", "clinicians", "clients", "checkins", "caseload"):
        parser.add_argument(f"--{name}", type=int)
    args = parser.parse_args(argv)
    base = SCALES["small" if args.small else "large"]
    overrides = {n: getattr(args, n) for n in ("practices", "clinicians", "clients", "checkins",
                                               "caseload") if getattr(args, n) is not None}
    scale = Scale(**{**asdict(base), **overrides, **({"name": "custom"} if overrides else {})})
    if scale.clinicians < 2 * scale.practices or scale.caseload > scale.clients // scale.practices:
        parser.error("need at least 2 clinicians per practice and caseload <= clients per practice")
    return scale


def main(argv=None) -> None:
    scale = scale_from_args(argv)
    setup_django()
    state = seed(scale)
    json.dump(state["rows"], sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
