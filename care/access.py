"""Object access for care views: one 404 for "not yours" and "does not exist"."""

from django.http import Http404

from accounts.models import Membership
from care.models import (
    AgendaItem,
    CareRequest,
    Client,
    PlanGoal,
    PlanIntervention,
    PlanObjective,
    PlanProblem,
    PlanProposal,
    TerminationPlan,
    TherapySession,
    TreatmentPlan,
)


def access_client(actor: Membership, client_id: int) -> Client:
    """The client `actor` may see: admins any in the practice, clinicians their caseload,
    clients only themselves."""
    clients = Client.objects.select_related("membership", "membership__user")
    if actor.role == Membership.Role.CLINICIAN:
        clients = clients.filter(assignments__clinician=actor, assignments__ended_at__isnull=True)
    elif actor.role == Membership.Role.CLIENT:
        clients = clients.filter(membership=actor)
    elif actor.role != Membership.Role.ADMIN:
        raise Http404
    client = clients.filter(pk=client_id).first()
    if client is None:
        raise Http404
    return client


def access_care_team_member(client: Client, membership_id: int) -> Membership:
    """A clinician currently working with `client` (active or not, so a deactivated
    clinician's clients can still be moved)."""
    member = (
        Membership.objects.select_related("user")
        .filter(pk=membership_id, assignments__client=client, assignments__ended_at__isnull=True)
        .first()
    )
    if member is None:
        raise Http404
    return member


def access_own_client(actor: Membership) -> Client:
    """A client's own record, for the pages under /p/<slug>/my/."""
    if actor.role != Membership.Role.CLIENT:
        raise Http404
    client = Client.objects.select_related("membership").filter(membership=actor).first()
    if client is None:
        raise Http404
    return client


def client_in_view(request, client_id: int | None = None) -> Client:
    """The client a shared staff/client view is about: staff name one by id (care: URLs),
    a client is always themselves (my: URLs, no id)."""
    if client_id is None:
        return access_own_client(request.membership)
    return access_client(request.membership, client_id)


# --- Sessions, agenda, requests and the ending plan: always looked up within one client -----


def _one_of(queryset, pk):
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def access_session(client: Client, session_id: int) -> TherapySession:
    sessions = TherapySession.objects.filter(client=client).select_related("clinician__user")
    return _one_of(sessions, session_id)


def access_agenda_item(client: Client, item_id: int) -> AgendaItem:
    return _one_of(AgendaItem.objects.filter(client=client).select_related("session"), item_id)


def access_request(client: Client, request_id: int) -> CareRequest:
    return _one_of(CareRequest.objects.filter(client=client), request_id)


def access_termination(client: Client, termination_id: int) -> TerminationPlan:
    return _one_of(TerminationPlan.objects.filter(client=client), termination_id)


# --- Treatment plans: the client's open plan and the parts of it a URL names. ------------------


def visible_plan(client: Client, viewer: Membership):
    """The client's open plan as `viewer` may see it (a draft is the care team's only), or None."""

    plans = TreatmentPlan.objects.filter(client=client).exclude(status=TreatmentPlan.Status.CLOSED)
    if viewer.role == Membership.Role.CLIENT:
        plans = plans.exclude(status=TreatmentPlan.Status.DRAFT)
    return plans.first()


def access_plan(client: Client, viewer: Membership):
    plan = visible_plan(client, viewer)
    if plan is None:
        raise Http404
    plan.client = client
    return plan


def _in_plan(queryset, pk):
    item = queryset.filter(pk=pk).first()
    if item is None:
        raise Http404
    return item


def access_goal(plan, goal_id: int):
    """A goal of `plan` (not removed): 404 for another client's goal, or none at all."""

    goals = PlanGoal.objects.filter(plan=plan).exclude(status=PlanGoal.Status.REMOVED)
    return _in_plan(goals, goal_id)


def access_problem(plan, problem_id: int):

    return _in_plan(PlanProblem.objects.filter(plan=plan, removed_at__isnull=True), problem_id)


def access_objective(plan, objective_id: int):

    objectives = PlanObjective.objects.select_related("goal").filter(
        goal__plan=plan, removed_at__isnull=True
    ).exclude(goal__status=PlanGoal.Status.REMOVED)
    return _in_plan(objectives, objective_id)


def access_intervention(plan, intervention_id: int):

    interventions = PlanIntervention.objects.select_related("goal").filter(
        goal__plan=plan, removed_at__isnull=True
    ).exclude(goal__status=PlanGoal.Status.REMOVED)
    return _in_plan(interventions, intervention_id)


def access_proposal(plan, proposal_id: int):

    return _in_plan(PlanProposal.objects.filter(plan=plan), proposal_id)
