"""URL patterns for plans: staff ones are mounted under /p/<slug>/clients/<client_id>/ (namespace
"care"), client ones under /p/<slug>/my/ (namespace "my"). Views are shared where the page is."""

from django.urls import path

from accounts.models import Membership
from care.views import plans as views
from portal.tenancy.access import require_role

staff = require_role(Membership.Role.ADMIN, Membership.Role.CLINICIAN)
client = require_role(Membership.Role.CLIENT)

# Pages and actions both sides have: the same view, in each side's namespace.
_shared = [
    ("plan/", views.plan_page, "plan"),
    ("plan/history/", views.plan_history, "plan_history"),
    ("plan/comment/", views.plan_comment, "plan_comment"),
    ("plan/sign/", views.plan_sign, "plan_sign"),
    ("plan/goals/<int:goal_id>/comment/", views.goal_comment, "plan_goal_comment"),
    ("plan/goals/<int:goal_id>/rate/", views.goal_rate, "plan_goal_rate"),
]

staff_patterns = [
    *(path(route, staff(view), name=name) for route, view, name in _shared),
    path("plan/start/", staff(views.plan_start), name="plan_start"),
    path("plan/share/", staff(views.plan_share), name="plan_share"),
    path("plan/close/", staff(views.plan_close), name="plan_close"),
    path("plan/details/", staff(views.plan_details), name="plan_details"),
    path("plan/problems/add/", staff(views.problem_add), name="plan_problem_add"),
    path("plan/problems/<int:problem_id>/", staff(views.problem_edit), name="plan_problem_edit"),
    path(
        "plan/problems/<int:problem_id>/remove/",
        staff(views.problem_remove),
        name="plan_problem_remove",
    ),
    path("plan/goals/add/", staff(views.goal_add), name="plan_goal_add"),
    path("plan/goals/<int:goal_id>/", staff(views.goal_edit), name="plan_goal_edit"),
    path("plan/goals/<int:goal_id>/remove/", staff(views.goal_remove), name="plan_goal_remove"),
    path(
        "plan/goals/<int:goal_id>/objectives/add/",
        staff(views.objective_add),
        name="plan_objective_add",
    ),
    path(
        "plan/objectives/<int:objective_id>/",
        staff(views.objective_edit),
        name="plan_objective_edit",
    ),
    path(
        "plan/objectives/<int:objective_id>/remove/",
        staff(views.objective_remove),
        name="plan_objective_remove",
    ),
    path(
        "plan/goals/<int:goal_id>/interventions/add/",
        staff(views.intervention_add),
        name="plan_intervention_add",
    ),
    path(
        "plan/interventions/<int:intervention_id>/",
        staff(views.intervention_edit),
        name="plan_intervention_edit",
    ),
    path(
        "plan/interventions/<int:intervention_id>/remove/",
        staff(views.intervention_remove),
        name="plan_intervention_remove",
    ),
    path(
        "plan/suggestions/<int:proposal_id>/accept/",
        staff(views.proposal_accept),
        name="plan_proposal_accept",
    ),
    path(
        "plan/suggestions/<int:proposal_id>/decline/",
        staff(views.proposal_decline),
        name="plan_proposal_decline",
    ),
]

client_patterns = [
    *(path(route, client(view), name=name) for route, view, name in _shared),
    path("plan/suggest/", client(views.propose_goal), name="plan_propose"),
    path("plan/goals/<int:goal_id>/suggest/", client(views.propose_goal), name="plan_goal_propose"),
]
