"""Reads for treatment plan pages. Each page runs a constant number of queries, however many
goals, comments, ratings, proposals or revisions the plan has."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Min, Prefetch, Q

from accounts.models import Membership
from care.access import visible_plan
from care.models import (
    Client,
    Comment,
    Notification,
    PlanGoal,
    PlanIntervention,
    PlanObjective,
    PlanProblem,
    PlanProposal,
    PlanRevision,
    PlanSignature,
    ProgressRating,
    TreatmentPlan,
)
from care.selectors.clients import care_team

STAFF_ROLES = set(Membership.STAFF_ROLES)


# --- Agreement ------------------------------------------------------------------------------


@dataclass
class Agreement:
    revision: PlanRevision | None
    client_signature: PlanSignature | None = None
    staff_signatures: list[PlanSignature] = field(default_factory=list)

    @property
    def agreed(self) -> bool:
        return self.client_signature is not None and bool(self.staff_signatures)

    @property
    def agreed_on(self) -> datetime | None:
        if not self.agreed:
            return None
        return max([self.client_signature.signed_at] + [s.signed_at for s in self.staff_signatures])

    def signed_by(self, member: Membership) -> bool:
        signatures = [self.client_signature, *self.staff_signatures]
        return any(s is not None and s.signer_id == member.pk for s in signatures)


def agreement_for(revision: PlanRevision | None, signatures) -> Agreement:
    agreement = Agreement(revision=revision)
    for signature in signatures:
        if signature.signer_role == Membership.Role.CLIENT:
            agreement.client_signature = signature
        elif signature.signer_role in STAFF_ROLES:
            agreement.staff_signatures.append(signature)
    return agreement


# --- The progress chart ---------------------------------------------------------------------

CHART_W, CHART_H = 320, 150
PAD_L, PAD_R, PAD_T, PAD_B = 28, 12, 10, 26


def _n(value: float) -> str:
    """A coordinate for an SVG attribute (never localised: always a dot, one decimal)."""
    return f"{value:.1f}"


@dataclass
class Point:
    x: float
    y: float
    rating: ProgressRating

    @property
    def cx(self) -> str:
        return _n(self.x)

    @property
    def cy(self) -> str:
        return _n(self.y)

    @property
    def square_x(self) -> str:
        return _n(self.x - 4.5)

    @property
    def square_y(self) -> str:
        return _n(self.y - 4.5)


@dataclass
class Series:
    label: str
    points: list[Point]

    @property
    def path(self) -> str:
        return " ".join(f"{p.cx},{p.cy}" for p in self.points)

    @property
    def latest(self) -> ProgressRating | None:
        return self.points[-1].rating if self.points else None


@dataclass
class ProgressChart:
    """Two series (client, care team) over time, already scaled to the SVG's viewBox."""

    client: Series
    team: Series
    rows: list[ProgressRating]
    first: datetime
    last: datetime
    width: int = CHART_W
    height: int = CHART_H
    left: str = _n(PAD_L)
    right: str = _n(CHART_W - PAD_R)
    label_x: str = _n(PAD_L - 6)
    axis_y: str = _n(CHART_H - PAD_B + 17)

    @property
    def gridlines(self) -> list[dict]:
        return [{"value": v, "y": _n(_y(v)), "label_y": _n(_y(v) + 4)} for v in (0, 5, 10)]

    @property
    def spans_days(self) -> bool:
        return self.first.date() != self.last.date()


def _y(score: float) -> float:
    return PAD_T + (10 - score) * (CHART_H - PAD_T - PAD_B) / 10


def progress_chart(ratings: list[ProgressRating]) -> ProgressChart | None:
    """Both sides' ratings over time, scaled into the chart's box (None without ratings)."""
    if not ratings:
        return None
    first, last = ratings[0].created_at, ratings[-1].created_at
    span = (last - first).total_seconds()
    width = CHART_W - PAD_L - PAD_R

    def x(rating):
        if span <= 0:
            return PAD_L + width / 2
        return PAD_L + width * (rating.created_at - first).total_seconds() / span

    client_points, team_points = [], []
    for rating in ratings:
        point = Point(x(rating), _y(rating.score), rating)
        (client_points if rating.rater_role == Membership.Role.CLIENT else team_points).append(
            point
        )
    return ProgressChart(
        client=Series("Client", client_points),
        team=Series("Care team", team_points),
        rows=list(reversed(ratings)),
        first=first,
        last=last,
    )


# --- The plan page --------------------------------------------------------------------------


@dataclass
class PlanPage:
    client: Client
    plan: TreatmentPlan | None
    problems: list[PlanProblem] = field(default_factory=list)
    goals: list[PlanGoal] = field(default_factory=list)
    plan_comments: list[Comment] = field(default_factory=list)
    proposals: list[PlanProposal] = field(default_factory=list)
    agreement: Agreement | None = None
    care_team: list[Membership] = field(default_factory=list)
    new_since: datetime | None = None

    @property
    def pending_proposals(self) -> list[PlanProposal]:
        return [p for p in self.proposals if p.status == PlanProposal.Status.PENDING]

    @property
    def answered_proposals(self) -> list[PlanProposal]:
        return [p for p in self.proposals if p.status != PlanProposal.Status.PENDING]


def _plan_queryset():
    comments = Comment.objects.select_related("author__user").order_by("created_at", "id")
    goals = (
        PlanGoal.objects.exclude(status=PlanGoal.Status.REMOVED)
        .select_related("problem")
        .order_by("position", "id")
        .prefetch_related(
            Prefetch(
                "objectives",
                queryset=PlanObjective.objects.filter(removed_at__isnull=True).order_by(
                    "position", "id"
                ),
                to_attr="live_objectives",
            ),
            Prefetch(
                "interventions",
                queryset=PlanIntervention.objects.filter(removed_at__isnull=True).order_by(
                    "position", "id"
                ),
                to_attr="live_interventions",
            ),
            Prefetch("comments", queryset=comments, to_attr="comment_list"),
            Prefetch(
                "ratings",
                queryset=ProgressRating.objects.select_related("rated_by__user").order_by(
                    "created_at", "id"
                ),
                to_attr="rating_list",
            ),
        )
    )
    return TreatmentPlan.objects.prefetch_related(
        Prefetch(
            "problems",
            queryset=PlanProblem.objects.filter(removed_at__isnull=True).order_by("position", "id"),
            to_attr="live_problems",
        ),
        Prefetch("goals", queryset=goals, to_attr="live_goals"),
        Prefetch("comments", queryset=comments.filter(goal__isnull=True), to_attr="plan_comments"),
        Prefetch(
            "proposals",
            queryset=PlanProposal.objects.select_related(
                "goal", "proposed_by__user", "responded_by__user"
            ).order_by("-created_at", "-id"),
            to_attr="proposal_list",
        ),
    )


def latest_agreement(plan: TreatmentPlan) -> Agreement:
    revision = PlanRevision.objects.filter(plan=plan).defer("content").order_by("-number").first()
    if revision is None:
        return Agreement(revision=None)
    signatures = PlanSignature.objects.filter(revision=revision).select_related("signer__user")
    return agreement_for(revision, signatures.order_by("signed_at"))


def first_unread_plan_news(viewer: Membership, client: Client) -> datetime | None:
    """When the oldest unread plan news for `viewer` arrived: items from others since then are
    new to them."""
    return Notification.objects.filter(
        recipient=viewer, client=client, area="plan", read_at__isnull=True
    ).aggregate(first=Min("created_at"))["first"]


def plan_page(*, client: Client, viewer: Membership) -> PlanPage:
    """Everything the plan page shows, for staff or for the client (who never sees a draft)."""
    plan = visible_plan(client, viewer)
    page = PlanPage(client=client, plan=None, care_team=care_team(client))
    if plan is None:
        return page
    plan = _plan_queryset().get(pk=plan.pk)
    plan.client = client
    page.plan = plan
    page.problems = plan.live_problems
    page.goals = plan.live_goals
    page.plan_comments = plan.plan_comments
    page.proposals = plan.proposal_list
    for goal in page.goals:
        goal.chart = progress_chart(goal.rating_list)
        goal.pending_proposals = [
            p
            for p in page.proposals
            if p.goal_id == goal.pk and p.status == PlanProposal.Status.PENDING
        ]
    page.agreement = latest_agreement(plan)
    page.new_since = first_unread_plan_news(viewer, client)
    _mark_new(page, viewer)
    return page


# News and the item it is about are written in one transaction, the item a moment earlier.
NEWS_SLACK = timedelta(minutes=1)


def _mark_new(page: PlanPage, viewer: Membership) -> None:
    """Set `is_new` on comments and suggestions that arrived since the viewer's oldest unread
    plan news (before opening the page marks it read)."""
    since = page.new_since - NEWS_SLACK if page.new_since else None

    def new(when, by_id):
        return bool(since and when and when >= since and by_id != viewer.pk)

    for comment in page.plan_comments + [c for g in page.goals for c in g.comment_list]:
        comment.is_new = new(comment.created_at, comment.author_id)
    for proposal in page.proposals:
        if viewer.role == Membership.Role.CLIENT:
            proposal.is_new = new(proposal.responded_at, proposal.responded_by_id)
        else:
            proposal.is_new = new(proposal.created_at, proposal.proposed_by_id)


def revision_history(plan: TreatmentPlan) -> list[PlanRevision]:
    """Every revision, newest first, with its author and signatures (content left out)."""
    return list(
        PlanRevision.objects.filter(plan=plan)
        .defer("content")
        .select_related("author__user")
        .prefetch_related(
            Prefetch(
                "signatures",
                queryset=PlanSignature.objects.select_related("signer__user").order_by("signed_at"),
                to_attr="signature_list",
            )
        )
        .order_by("-number")
    )


# --- Panels on the client pages -------------------------------------------------------------


@dataclass
class PlanPanel:
    plan: TreatmentPlan | None
    pending_proposals: int = 0
    unread: int = 0


def plan_panel(*, client: Client, viewer: Membership, unread: int | None = None) -> PlanPanel:
    """The plan's headline for the client page / client home: two queries, one when the page
    already counted the viewer's `unread` plan notifications."""
    plans = TreatmentPlan.objects.filter(client=client)
    if viewer.role == Membership.Role.CLIENT:
        plans = plans.exclude(status=TreatmentPlan.Status.DRAFT)
    plan = (
        plans.exclude(status=TreatmentPlan.Status.CLOSED)
        .annotate(
            pending=Count("proposals", filter=Q(proposals__status=PlanProposal.Status.PENDING))
        )
        .first()
    )
    if unread is None:
        unread = Notification.objects.filter(
            recipient=viewer, client=client, area="plan", read_at__isnull=True
        ).count()
    return PlanPanel(plan=plan, pending_proposals=plan.pending if plan else 0, unread=unread)
