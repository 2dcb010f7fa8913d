"""Isolation is tested, not assumed (DESIGN.md, "Quality bars").

The URL patterns are discovered by walking the resolver tree, so a URL added later is covered
without editing this file. Every tenant URL is requested as members of practice A with practice
B's ids, under practice B's slug, with ids that do not exist, anonymously, as a client on staff
pages and as a clinician on a client who is not theirs. Each request must be refused with a 404
(or a redirect to sign-in) and change nothing in the database.

When a new URL takes a keyword this file has never seen, the test fails and asks for an entry
in KWARG_REGISTRY: how to name an object of a given practice for that keyword.
"""

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, ForeignKey, Max
from django.shortcuts import resolve_url
from django.test import Client as HttpClient
from django.test import override_settings
from django.urls import URLResolver, get_resolver, reverse

from accounts.models import Invitation, Membership, User
from care.models import AgendaItem, CareRequest, Client, TerminationPlan, TherapySession
from care.models import PlanGoal, PlanIntervention, PlanObjective, PlanProblem, PlanProposal
from feedback.models import CheckinInvitation, Instrument, InstrumentVersion, MeasurementPlan
from feedback.models import Alert, CheckinResponse
from portal.exports.models import ExportJob
from feedback.testing import InstrumentFactory, make_checkin
from portal.testing import (
    AgendaItemFactory,
    AssignmentFactory,
    CareRequestFactory,
    InvitationFactory,
    MembershipFactory,
    TerminationPlanFactory,
    TherapySessionFactory,
    UserFactory,
    make_plan,
)
from portal.tenancy.models import Practice, PracticeScopedModel

TENANT_URLCONF = "portal.tenant_urls"
LEAKY_URLCONF = "portal.tests.leaky_urls"
SLUG = "practice_slug"
STAFF_NAMESPACES = ("accounts", "care", "feedback", "audit", "exports")
MARKER = "Zzleakmarker"  # every name in practice B contains it; no page of A may show it


# --- What a URL keyword names -------------------------------------------------------------


@dataclass(frozen=True)
class IdKind:
    """How to name, for one URL keyword, an object of a practice world.

    `pick(world)` returns an object a member of that practice could legitimately reach through
    the URL (the "happy" target); the checker uses practice B's object for cross-practice probes
    and practice A's for role probes. `missing()` returns a value naming nothing at all.
    """

    model: type
    pick: Callable[..., object]
    missing: Callable[[], object] | None = None

    def value(self, world):
        return self.pick(world).pk

    def nonexistent(self):
        if self.missing is not None:
            return self.missing()
        top = self.model._base_manager.aggregate(top=Max("pk"))["top"] or 0
        return top + 100_000


KWARG_REGISTRY: dict[str, IdKind] = {
    "client_id": IdKind(Client, lambda w: w.client),
    # A clinician on world.client's care team, so (client_id, membership_id) is a real pair.
    "membership_id": IdKind(Membership, lambda w: w.clinician),
    "invitation_id": IdKind(Invitation, lambda w: w.invitation),
    # Sessions, agenda, requests and the ending plan: each of world.client (see prepare_worlds).
    "session_id": IdKind(TherapySession, lambda w: w.session),
    "item_id": IdKind(AgendaItem, lambda w: w.agenda_item),
    "request_id": IdKind(CareRequest, lambda w: w.care_request),
    "termination_id": IdKind(TerminationPlan, lambda w: w.termination),
    # The parts of world.client's shared treatment plan (see prepare_worlds).
    "goal_id": IdKind(PlanGoal, lambda w: w.plan_parts.goal),
    "problem_id": IdKind(PlanProblem, lambda w: w.plan_parts.problem),
    "objective_id": IdKind(PlanObjective, lambda w: w.plan_parts.objective),
    "intervention_id": IdKind(PlanIntervention, lambda w: w.plan_parts.intervention),
    "proposal_id": IdKind(PlanProposal, lambda w: w.plan_parts.proposal),
    # A custom instrument of the practice (see prepare_worlds).
    "instrument_id": IdKind(Instrument, lambda w: w.instrument),
    # world.client's measurement plan and open in-session check-in (see prepare_worlds).
    "measurement_plan_id": IdKind(MeasurementPlan, lambda w: w.measurement_plan),
    "checkin_id": IdKind(CheckinInvitation, lambda w: w.checkin),
    # world.client's answered check-in and its open rupture alert (see prepare_worlds).
    "response_id": IdKind(CheckinResponse, lambda w: w.response),
    "alert_id": IdKind(Alert, lambda w: w.alert),
    # A finished practice export of the world (portal.exports), made on first use.
    "job_id": IdKind(ExportJob, lambda w: _export_job(w)),
}


def _export_job(world):
    if getattr(world, "export_job", None) is None:
        world.export_job = ExportJob.unscoped.create(
            practice=world.practice, format="csv", status="done", progress=100,
            file_path=f"{world.practice.pk}/export-isolation.zip", created_by=world.admin,
        )
    return world.export_job


def post_data(world) -> dict:
    """Plausible form data for any tenant view, naming `world`'s objects (ignored if unused)."""
    return {
        "clinician": world.clinician2.pk,
        "from_clinician": world.clinician.pk,
        "to_clinician": world.clinician2.pk,
        "membership": world.clinician.pk,
        "client": world.client.pk,
        "email": "isolation-probe@example.test",
        "role": Membership.Role.CLINICIAN,
        "first_name": "Probe",
        "last_name": "Isolation",
        "preferred_contact": "email",
        "send_invitation": "on",
    }


# --- Walking the URL tree -------------------------------------------------------------------


@dataclass(frozen=True)
class TenantURL:
    name: str | None  # with namespaces: "care:client"
    route: str  # "p/<slug:practice_slug>/clients/<int:client_id>/"
    kwargs: tuple[str, ...]  # captured names other than practice_slug

    @property
    def label(self) -> str:
        return self.name or f"<unnamed {self.route}>"

    @property
    def namespace(self) -> str:
        return self.name.rpartition(":")[0] if self.name else ""


def walk_urls(urlconf: str | None = None) -> list[TenantURL]:
    """Every URL pattern of `urlconf` (recursing into includes) with its namespaced name and
    the names of all the keywords captured on the way down, practice_slug included."""
    found = []

    def walk(patterns, namespaces, captured, route):
        for entry in patterns:
            here = captured + tuple(entry.pattern.regex.groupindex)
            path = route + str(entry.pattern)
            if isinstance(entry, URLResolver):
                ns = namespaces + ((entry.namespace,) if entry.namespace else ())
                walk(entry.url_patterns, ns, here, path)
            else:
                name = ":".join(namespaces + (entry.name,)) if entry.name else None
                found.append(TenantURL(name=name, route=path, kwargs=here))

    walk(get_resolver(urlconf).url_patterns, (), (), "")
    return found


def tenant_urls(urlconf: str | None = None) -> list[TenantURL]:
    """The URLs under /p/<practice_slug>/ (the slug itself left out of `kwargs`)."""
    return [
        TenantURL(u.name, u.route, tuple(k for k in u.kwargs if k != SLUG))
        for u in walk_urls(urlconf)
        if SLUG in u.kwargs
    ]


# --- The worlds and the people probing them ----------------------------------------------------


def prepare_worlds(a, b) -> None:
    """Extra rows the probes need, on top of conftest's two practice worlds."""
    for world in (a, b):
        world.invitation = InvitationFactory(practice=world.practice)
        # B's texts carry MARKER, so a page of A that shows one is caught.
        text = f"{MARKER} text" if world is b else "A's own text"
        world.session = TherapySessionFactory(
            practice=world.practice, client=world.client, clinician=world.clinician
        )
        world.agenda_item = AgendaItemFactory(
            practice=world.practice, client=world.client, session=world.session, text=text
        )
        world.care_request = CareRequestFactory(
            practice=world.practice, client=world.client, kind="end", reason=text
        )
        world.termination = TerminationPlanFactory(
            practice=world.practice, client=world.client, created_by=world.clinician,
            after_care=text,
        )
        world.plan_parts = make_plan(
            practice=world.practice, client=world.client, clinician=world.clinician, text=text
        )
        world.instrument = InstrumentFactory(practice=world.practice, name=f"{text} instrument")
        world.measurement_plan = MeasurementPlan.unscoped.create(
            practice=world.practice, client=world.client, instrument=world.instrument,
            cadence="every_session", channel="email", reminder_after_hours=24, max_reminders=2,
            expiry_days=4, starts_on="2026-01-01", counting_from="2026-01-01T00:00Z",
        )
        world.checkin = make_checkin(
            practice=world.practice, client=world.client, channel="in_session",
            version=InstrumentVersion.unscoped.get(instrument=world.instrument),
            clinician=world.clinician,
        )
        world.response = CheckinResponse.unscoped.create(
            practice=world.practice, client=world.client, channel="email", total=3,
            instrument_version=InstrumentVersion.unscoped.get(instrument=world.instrument),
        )
        world.alert = Alert.unscoped.create(
            practice=world.practice, client=world.client, kind="rupture", severity=1,
            response=world.response, reasons=[{"rule": "below_cutoff", "text": text}],
        )
    # Everything of B that a page might show carries MARKER, so a leak is visible in a body.
    b.practice.name = f"{MARKER} Practice"
    b.practice.save()
    for i, member in enumerate(
        Membership.unscoped.filter(practice=b.practice, user__isnull=False).select_related("user")
    ):
        member.user.first_name, member.user.last_name = f"{MARKER}{i}", "Bravo"
        member.user.save()
    for i, client in enumerate(Client.unscoped.filter(practice=b.practice)):
        client.first_name, client.last_name = f"{MARKER}c{i}", "Bravo"
        client.save()
    # (Before the dual member below joins B: their address shows in A, rightly.)
    b.markers = [MARKER] + list(
        Membership.unscoped.filter(practice=b.practice).values_list("email", flat=True)
    )
    # A clinician of A who is also admin of B: a check that looks at the user (not at the
    # membership of the practice in the URL) shows up as a leak for this person.
    dual_user = UserFactory(first_name="Dual", last_name="Member")
    a.dual = MembershipFactory(practice=a.practice, user=dual_user, role=Membership.Role.CLINICIAN)
    MembershipFactory(practice=b.practice, user=dual_user, role=Membership.Role.ADMIN)
    # A clinician of A who was deactivated while still on world.client's care team.
    a.former = MembershipFactory(
        practice=a.practice, role=Membership.Role.CLINICIAN, status=Membership.Status.INACTIVE
    )
    AssignmentFactory(practice=a.practice, client=a.client, clinician=a.former)


def actors_of(world) -> dict[str, Membership]:
    return {
        "admin": world.admin,
        "clinician": world.clinician,
        "client": world.client.membership,
        "dual (clinician of A, admin of B)": world.dual,
    }


# --- Counting writes, and snapshots only where something was written ---------------------------

# Apps whose tables a refused request must not touch ("exports" once that app is installed).
TRACKED_APPS = ("tenancy", "accounts", "care", "feedback", "audit", "exports")


def tracked_models() -> list[type]:
    return [
        m for label in TRACKED_APPS if label in apps.app_configs
        for m in apps.get_app_config(label).get_models()
    ]


class WriteCounter:
    """Exactly how many rows of each tracked table were inserted, updated or deleted while
    `measure()` was open — including writes inside savepoints that were rolled back.

    PostgreSQL: pg_stat_xact_user_tables, whose counters are local to the current transaction
    (the test's) and count attempted actions whether their subtransaction commits or aborts.
    SQLite: the connection's total_changes, read around every statement, attributed to the table
    the statement writes. Either way one cheap query (or none) per request instead of a hash of
    every row, which is what made this file take minutes.
    """

    _SQLITE_TARGET = re.compile(
        r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+"?([\w]+)"?',
        re.IGNORECASE,
    )

    def __init__(self):
        self.models = {m._meta.db_table: m for m in tracked_models()}

    def _pg_counts(self) -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables "
                "WHERE schemaname = current_schema() AND relname = ANY(%s)",
                [list(self.models)],
            )
            return dict(cursor.fetchall())

    @contextmanager
    def measure(self) -> Iterator[Counter]:
        """Yields a Counter that holds {model: rows written} once the block has ended."""
        written: Counter = Counter()
        if connection.vendor == "postgresql":
            before = self._pg_counts()
            try:
                yield written
            finally:
                after = self._pg_counts()
                for table, count in after.items():
                    if count != before.get(table, 0):
                        written[self.models[table]] += count - before.get(table, 0)
            return
        # total_changes moves when a statement finishes: at once for a plain UPDATE, only once
        # its rows are fetched for INSERT ... RETURNING. So changes seen since the last look
        # belong to the last write statement, and are settled before each statement and at
        # the end.
        connection.ensure_connection()
        raw = connection.connection
        by_table: Counter = Counter()
        state = {"table": None, "seen": raw.total_changes}

        def settle():
            if delta := raw.total_changes - state["seen"]:
                # A write we cannot attribute fails the probe rather than passing unseen.
                assert state["table"], "rows written by a statement of unknown target"
                by_table[state["table"]] += delta
                state["seen"] += delta

        def count_changes(execute, sql, params, many, context):
            settle()
            match = self._SQLITE_TARGET.match(sql)
            state["table"] = match.group(1) if match else None
            try:
                return execute(sql, params, many, context)
            finally:
                settle()

        try:
            with connection.execute_wrapper(count_changes):
                yield written
        finally:
            settle()
            for table, count in by_table.items():
                if table in self.models:
                    written[self.models[table]] += count


@cache
def write_counter() -> WriteCounter:
    return WriteCounter()


def _rows(model, practice=None):
    qs = model._base_manager.all()  # `unscoped` for tenant models
    if practice is not None:
        if model is User:
            qs = qs.filter(pk__in=Membership.unscoped.filter(practice=practice).values("user_id"))
        elif model is Practice:
            qs = qs.filter(pk=practice.pk)
        elif any(f.name == "practice" for f in model._meta.concrete_fields):
            qs = qs.filter(practice=practice)  # tenant rows, and the practice's audit events
    return list(qs.order_by("pk").values_list())


def db_digest(practice=None, models=None) -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row of the given (or every tracked) model, of one practice
    if given. Only taken for the few tables a request actually wrote to."""
    digest = {}
    for model in models if models is not None else tracked_models():
        rows = _rows(model, practice)
        digest[model._meta.label] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return digest


def cross_practice_references(models=None) -> list[str]:
    """Rows pointing at a row of another practice (there must never be any)."""
    found = []
    for model in models if models is not None else tracked_models():
        if not issubclass(model, PracticeScopedModel):
            continue
        for f in model._meta.concrete_fields:
            if isinstance(f, ForeignKey) and issubclass(f.related_model, PracticeScopedModel):
                bad = (
                    model.unscoped.filter(**{f"{f.name}__isnull": False})
                    .exclude(**{f"{f.name}__practice_id": F("practice_id")})
                    .values_list("pk", flat=True)
                )
                found += [f"{model._meta.label}#{pk}.{f.name}" for pk in bad]
    return found


def _changed(before: dict, after: dict) -> list[str]:
    return [label for label in before if before[label] != after[label]]


def _labels(models) -> str:
    return ", ".join(sorted(m._meta.label for m in models))


# --- Probes and the checker -------------------------------------------------------------------

DENIED = "denied"  # 404 (405 only for a method the view never accepts); nothing changes
SIGN_IN = "sign_in"  # anonymous: a redirect to the sign-in page; nothing changes
NO_LEAK = "no_leak"  # A's own pages/ids: any non-error answer, but B untouched and unseen


@dataclass
class Probe:
    check: str
    url: TenantURL
    path: str
    actor: str
    http: HttpClient
    expect: str
    data: dict = field(default_factory=dict)


@dataclass
class Outcome:
    status: int | None
    problems: list[str]
    allow: str = ""
    sign_in: bool = False


@dataclass(frozen=True)
class Failure:
    check: str
    url: str  # the pattern's name
    detail: str  # the rest of the line

    def __str__(self) -> str:
        return f"[{self.check}] {self.detail}"


def _sign_in_path() -> str:
    return urlsplit(resolve_url(settings.LOGIN_URL)).path


def _is_sign_in_redirect(response) -> bool:
    return response.status_code in (301, 302, 303, 307, 308) and (
        urlsplit(response["Location"]).path == _sign_in_path()
    )


def _run(probe: Probe, method: str, b) -> Outcome:
    # Each request runs in a savepoint that is rolled back, so a probe that does change
    # something (a leak, or a legitimate write on a NO_LEAK page) cannot skew the next one.
    with transaction.atomic():
        outcome, written = _request(probe, method, b)
        # A's own page may write (its own rows, an audit event): practice B's rows of just those
        # tables must be as they were. "As they were" is read after the rollback below.
        after = db_digest(b.practice, written) if probe.expect == NO_LEAK and written else None
        transaction.set_rollback(True)
    if after is not None and (changed := _changed(db_digest(b.practice, written), after)):
        outcome.problems.append(f"changed rows of practice B of {', '.join(changed)}")
    return outcome


def _request(probe: Probe, method: str, b) -> tuple[Outcome, list]:
    """The request and what it wrote: the tracked models with rows inserted, updated or deleted."""
    problems = []
    response = None
    with write_counter().measure() as counts:
        try:
            with transaction.atomic():  # so a database error leaves the connection usable
                if method == "GET":
                    response = probe.http.get(probe.path)
                else:
                    response = probe.http.post(probe.path, probe.data)
        except Exception as error:  # a crash is a failure, and the walk goes on
            problems.append(f"raised {type(error).__name__}: {error}")
    written = [model for model, n in counts.items() if n]
    if written and probe.expect in (DENIED, SIGN_IN):
        # Refused means refused: not a row anywhere, audit events included.
        problems.append(f"changed rows of {_labels(written)}")
    if probe.expect == NO_LEAK and written and (refs := cross_practice_references(written)):
        problems.append(f"left cross-practice references: {', '.join(refs)}")
    if response is None:
        return Outcome(None, problems), written
    body = "" if response.streaming else response.content.decode(errors="replace")
    if shown := [m for m in b.markers if m in body]:
        problems.append(f"shows practice B's data: {shown[:3]}")
    status = response.status_code
    sign_in = _is_sign_in_redirect(response)
    if probe.expect == SIGN_IN and not sign_in:
        problems.append("is not a redirect to sign-in")
    if probe.expect == NO_LEAK and status >= 500:
        problems.append("server error")
    return Outcome(status, problems, response.get("Allow", ""), sign_in), written


def _judge(probe: Probe, b) -> list[Failure]:
    """Both methods for one probe; the failures, one per method."""
    outcomes = {method: _run(probe, method, b) for method in ("GET", "POST")}
    failures = []
    refused = False
    for method, out in outcomes.items():
        problems = list(out.problems)
        if probe.expect == DENIED and out.status is not None:
            allowed = {m.strip() for m in out.allow.split(",") if m.strip()}
            if out.status == 404 or out.sign_in:
                refused = True
            elif out.status == 405 and method not in allowed:
                pass  # e.g. GET on a POST-only view: then POST must be refused (below)
            else:
                problems.append("expected 404")
        if problems:
            failures.append(_failure(probe, method, out.status, "; ".join(problems)))
    if probe.expect == DENIED and not refused and not failures:
        statuses = ", ".join(f"{m} {o.status}" for m, o in outcomes.items())
        failures.append(
            _failure(probe, "GET+POST", None, f"no method reached the access check ({statuses})")
        )
    return failures


def _failure(probe: Probe, method: str, status, problem: str) -> Failure:
    detail = (
        f"{method} {probe.path} ({probe.url.label}) as {probe.actor}: status {status}: {problem}"
    )
    return Failure(probe.check, probe.url.label, detail)


class Checker:
    """Builds the probes for each check against the URLs of one urlconf."""

    def __init__(self, urlconf: str, a, b):
        self.urlconf, self.a, self.b = urlconf, a, b
        self.urls = tenant_urls(urlconf)
        self._clients: dict[int | None, HttpClient] = {}

    def http(self, membership: Membership | None) -> HttpClient:
        key = membership.pk if membership else None
        if key not in self._clients:
            http = HttpClient()
            if membership is not None:
                http.force_login(membership.user)
            self._clients[key] = http
        return self._clients[key]

    def path(self, url: TenantURL, world, ids: dict) -> str:
        return reverse(
            url.name, urlconf=self.urlconf, kwargs={SLUG: world.practice.slug, **ids}
        )

    def ids(self, url: TenantURL, world) -> dict:
        return {k: KWARG_REGISTRY[k].value(world) for k in url.kwargs}

    def id_variants(self, url: TenantURL, base, other) -> Iterator[tuple[str, dict]]:
        """All ids from `other`, then (with several keywords) one at a time in `base`'s ids."""
        yield "", other
        if len(url.kwargs) > 1:
            for k in url.kwargs:
                yield f" (only {k})", {**base, k: other[k]}

    def missing(self, url: TenantURL) -> dict:
        return {k: KWARG_REGISTRY[k].nonexistent() for k in url.kwargs}

    # Each check yields probes.

    def cross_practice_ids(self):
        a, b = self.a, self.b
        for url in self.urls:
            for actor, member in actors_of(a).items():
                http = self.http(member)
                if not url.kwargs:
                    # Nothing to swap: the page itself must not show or touch practice B.
                    yield Probe("a: B's data", url, self.path(url, a, {}), actor, http, NO_LEAK,
                                post_data(b))
                    continue
                for note, ids in self.id_variants(url, self.ids(url, a), self.ids(url, b)):
                    yield Probe(f"a: B's ids{note}", url, self.path(url, a, ids), actor, http,
                                DENIED, post_data(b))
                # A's own object in the URL, B's ids in the form (a clinician of B to assign).
                yield Probe("a: B's ids in the form", url, self.path(url, a, self.ids(url, a)),
                            actor, http, NO_LEAK, post_data(b))

    def other_practice_slug(self):
        a, b = self.a, self.b
        for url in self.urls:
            for actor in ("admin", "clinician", "client"):
                member = actors_of(a)[actor]
                yield Probe("b: B's slug", url, self.path(url, b, self.ids(url, b)), actor,
                            self.http(member), DENIED, post_data(b))

    def nonexistent_ids(self):
        a = self.a
        for url in self.urls:
            if not url.kwargs:
                continue
            for actor, member in actors_of(a).items():
                for note, ids in self.id_variants(url, self.ids(url, a), self.missing(url)):
                    yield Probe(f"c: no such id{note}", url, self.path(url, a, ids), actor,
                                self.http(member), DENIED, post_data(a))

    def anonymous(self):
        a = self.a
        for url in self.urls:
            yield Probe("d: anonymous", url, self.path(url, a, self.ids(url, a)), "anonymous",
                        self.http(None), SIGN_IN, post_data(a))

    def client_on_staff_pages(self):
        a = self.a
        for url in self.urls:
            if url.namespace.split(":")[0] not in STAFF_NAMESPACES:
                continue
            yield Probe("role: client on staff page", url, self.path(url, a, self.ids(url, a)),
                        "client", self.http(a.client.membership), DENIED, post_data(a))

    def clinician_on_unassigned_client(self):
        a = self.a
        # other_client's only clinician is clinician2: a real (client, clinician) pair.
        ids = {"client_id": a.other_client.pk, "membership_id": a.clinician2.pk}
        data = {**post_data(a), "clinician": a.clinician.pk,
                "from_clinician": a.clinician2.pk, "to_clinician": a.clinician.pk}
        for url in self.urls:
            if "client_id" not in url.kwargs:
                continue
            path = self.path(url, a, {k: ids.get(k, KWARG_REGISTRY[k].value(a))
                                      for k in url.kwargs})
            for actor in ("clinician", "dual (clinician of A, admin of B)"):
                member = actors_of(a)[actor]
                yield Probe("role: clinician on a client not theirs", url, path, actor,
                            self.http(member), DENIED, data)

    def former_member(self):
        a = self.a
        for url in self.urls:
            yield Probe("role: deactivated clinician", url, self.path(url, a, self.ids(url, a)),
                        "deactivated clinician", self.http(a.former), DENIED, post_data(a))


CHECKS = (
    "cross_practice_ids",
    "other_practice_slug",
    "nonexistent_ids",
    "anonymous",
    "client_on_staff_pages",
    "clinician_on_unassigned_client",
    "former_member",
)


def registry_failures(urls: list[TenantURL]) -> list[Failure]:
    failures = []
    for url in urls:
        if url.name is None:
            failures.append(Failure("registry", url.label, (
                f"{url.route} has no name: name it so the isolation test can reverse it.")))
        for k in url.kwargs:
            if k not in KWARG_REGISTRY:
                failures.append(Failure("registry", url.label, (
                    f"{url.label} ({url.route}) takes `{k}`, which the isolation test does not "
                    f"know: add an IdKind for `{k}` to KWARG_REGISTRY in "
                    f"portal/tests/test_isolation.py (how to name an object of a practice)."
                )))
    return failures


def isolation_failures(urlconf: str, a, b, checks=CHECKS) -> list[Failure]:
    """Run the checks against every tenant URL of `urlconf`; the failures, one per request.

    `a` and `b` are PracticeWorlds after prepare_worlds(). The requests go through the test
    client, so settings.ROOT_URLCONF must be `urlconf`.
    """
    assert settings.ROOT_URLCONF == urlconf, "override ROOT_URLCONF to the urlconf under test"
    checker = Checker(urlconf, a, b)
    failures = registry_failures(checker.urls)
    unprobeable = {f.url for f in failures}
    checker.urls = [u for u in checker.urls if u.label not in unprobeable]
    for check in checks:
        for probe in getattr(checker, check)():
            failures += _judge(probe, b)
    return failures


def _report(failures: list[Failure]) -> str:
    return f"{len(failures)} isolation failure(s):\n" + "\n".join(map(str, failures))


# --- Tests ------------------------------------------------------------------------------------


@pytest.fixture
def worlds(world_a, world_b):
    prepare_worlds(world_a, world_b)
    assert cross_practice_references() == []
    return world_a, world_b


def test_walker_finds_the_tenant_urls():
    names = {u.name for u in tenant_urls(settings.ROOT_URLCONF)}
    # A floor, not the list: a walker that finds nothing must not pass the checks vacuously.
    assert {"practice_home", "accounts:staff", "accounts:deactivate", "care:client",
            "care:client_unassign"} <= names
    unassign = next(u for u in tenant_urls() if u.name == "care:client_unassign")
    assert unassign.kwargs == ("client_id", "membership_id")


def test_every_url_of_tenant_urls_is_mounted_under_the_practice_slug():
    mounted = {(u.name, u.route.split("/", 2)[2]) for u in tenant_urls(settings.ROOT_URLCONF)}
    for url in walk_urls(TENANT_URLCONF):
        assert (url.name, url.route) in mounted, f"{url.label} is not under /p/<practice_slug>/"


# Top-level URLs outside /p/<slug>/ are few and deliberate; a new one must be added here on
# purpose (and isolation-tested by hand), or better moved under the practice slug.
NON_TENANT_ROUTES = {
    "", "practices/new/", "invite/<str:token>/", "accounts/", "admin/",
    "c/<str:token>/",  # a check-in link: feedback/tests/test_checkin_link.py tests its isolation
}


def test_no_url_outside_the_practice_slug_but_the_known_ones():
    top = {str(p.pattern) for p in get_resolver().url_patterns}
    outside = {r for r in top if SLUG not in r}
    assert outside == NON_TENANT_ROUTES


def test_registry_knows_every_url_keyword():
    assert registry_failures(tenant_urls(settings.ROOT_URLCONF)) == []


@pytest.mark.parametrize("check", CHECKS)
def test_isolation(worlds, check):
    failures = isolation_failures(settings.ROOT_URLCONF, *worlds, checks=(check,))
    assert not failures, _report(failures)


@override_settings(ROOT_URLCONF=LEAKY_URLCONF)
def test_the_checker_catches_a_leak(worlds):
    """The same checker over the real URLs plus deliberately unscoped views (leaky_urls)."""
    failures = isolation_failures(LEAKY_URLCONF, *worlds)
    by_url: dict[str, list[str]] = {}
    for failure in failures:
        by_url.setdefault(failure.url, []).append(str(failure))
    # Only the planted views fail: the real URLs stay clean under the same checker.
    assert set(by_url) == {"leaky_client", "leaky_discharge", "leaky_widget"}, _report(failures)

    leaky_read = "\n".join(by_url["leaky_client"])
    # B's client shown under A's slug to every actor of A ...
    for actor in actors_of(worlds[0]):
        assert f"as {actor}: status 200: shows practice B's data" in leaky_read, leaky_read
    # ... and a crash, not a 404, for an id that does not exist.
    assert "[c: no such id] GET" in leaky_read and "raised DoesNotExist" in leaky_read
    # The middleware still guards B's slug and anonymous visitors, so those checks pass.
    assert "[b: B's slug]" not in leaky_read and "[d: anonymous]" not in leaky_read

    # A view that answers 404 but has already written to practice B is caught by the snapshot.
    leaky_write = "\n".join(by_url["leaky_discharge"])
    assert "[a: B's ids] POST" in leaky_write
    assert "status 404: changed rows of care.Client" in leaky_write, leaky_write

    # A keyword nobody registered fails with instructions instead of being skipped silently.
    (unknown,) = by_url["leaky_widget"]
    assert "takes `widget_id`" in unknown and "KWARG_REGISTRY" in unknown


def test_the_write_counter_is_exact(world_a):
    from portal.audit.models import AuditEvent
    from portal.audit.services import record_event

    assert AuditEvent in tracked_models()  # a refused request may not write an audit event
    counter = WriteCounter()
    with counter.measure() as nothing:
        list(Client.unscoped.all())
        Client.unscoped.filter(pk=-1).update(first_name="nobody")
    assert not +nothing
    with counter.measure() as counts:
        with transaction.atomic():
            Client.unscoped.filter(pk=world_a.client.pk).update(first_name="X")
            transaction.set_rollback(True)  # undone, but it was written: still counted
        record_event(practice=world_a.practice, actor=None, action="export")
        Client.unscoped.filter(practice=world_a.practice).update(first_name="Y")
    assert counts == Counter({Client: 1 + Client.unscoped.filter(practice=world_a.practice).count(),
                              AuditEvent: 1})


@override_settings(ROOT_URLCONF=LEAKY_URLCONF)
def test_a_page_that_answers_but_writes_to_practice_b_is_caught(worlds):
    """NO_LEAK probes (A's own pages) may write A's rows and audit events, never B's rows."""
    from portal.audit.models import AuditEvent

    a, b = worlds
    checker = Checker(LEAKY_URLCONF, a, b)
    by_name = {u.name: u for u in checker.urls}
    admin = checker.http(a.admin)
    leak = by_name["leaky_discharge"]
    probe = Probe("a: B's data", leak, checker.path(leak, a, {"client_id": b.client.pk}),
                  "admin", admin, NO_LEAK)
    assert "changed rows of practice B of care.Client" in _run(probe, "POST", b).problems
    # A's own client page writes an audit event of A: counted, checked against B, passes.
    page = by_name["care:client"]
    probe = Probe("a: B's data", page, checker.path(page, a, {"client_id": a.client.pk}),
                  "admin", admin, NO_LEAK)
    with transaction.atomic():
        outcome, written = _request(probe, "GET", b)
        transaction.set_rollback(True)
    assert outcome.status == 200 and AuditEvent in written
    assert _run(probe, "GET", b).problems == []

