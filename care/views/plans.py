"""Treatment plan pages. One view serves staff (care:..., with a client id) and the client
(my:..., no id) wherever the page is shared; care/routes/plans.py applies the role checks."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Membership
from care.access import (
    access_client,
    access_goal,
    access_intervention,
    access_objective,
    access_plan,
    access_problem,
    access_proposal,
    client_in_view,
)
from care.forms.plans import (
    AcceptForm,
    CloseForm,
    CommentForm,
    DeclineForm,
    GoalForm,
    InterventionForm,
    ObjectiveForm,
    PlanDetailsForm,
    ProblemForm,
    ProposalForm,
    RatingForm,
    SignForm,
    VersionForm,
)
from care.models import TreatmentPlan
from care.selectors import plans as selectors
from care.services import plans as services
from care.services.notifications import mark_read
from portal.audit.models import Action as Audit
from portal.audit.services import record_request_event, record_staff_event

CLIENT = Membership.Role.CLIENT


# --- Helpers ----------------------------------------------------------------------------------


def plan_url(request, client, name="plan", anchor="", **kwargs) -> str:
    """A plan URL in the viewer's own namespace: care:... (with the client id) or my:..."""
    kwargs["practice_slug"] = request.practice.slug
    if request.membership.role == CLIENT:
        namespace = "my"
    else:
        namespace = "care"
        kwargs["client_id"] = client.pk
    url = reverse(f"{namespace}:{name}", kwargs=kwargs)
    return f"{url}#{anchor}" if anchor else url


def _back(request, client, anchor=""):
    return redirect(plan_url(request, client, anchor=anchor))


def _service_kwargs(request) -> dict:
    return {"practice": request.practice, "actor": request.membership}


def _add_errors(form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form's fields where it names one."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _form_page(
    request,
    client,
    form,
    *,
    title,
    action,
    intro="",
    submit="Save",
    anchor="",
    remove_action="",
    remove_label="",
    conflict=None,
    status=200,
):
    context = {
        "client": client,
        "form": form,
        "title": title,
        "intro": intro,
        "action": action,
        "submit": submit,
        "cancel": plan_url(request, client, anchor=anchor),
        "remove_action": remove_action,
        "remove_label": remove_label,
        "conflict": conflict,
        "stale_message": services.STALE_MESSAGE,
    }
    return render(request, "care/plans/form_page.html", context, status=status)


def _edit(
    request,
    client,
    plan,
    form_class,
    *,
    initial,
    save,
    title,
    done,
    anchor="",
    form_kwargs=None,
    intro="",
    remove_action="",
    remove_label="",
    current=None,
    submit="Save",
):
    """GET: the form. POST: validate, save through the service, or re-render with the input
    kept (a stale version shows what the plan says now and takes the new version)."""
    form_kwargs = form_kwargs or {}
    conflict = None
    if request.method == "POST":
        form = form_class(request.POST, **form_kwargs)
        if form.is_valid():
            try:
                save(form.cleaned_data)
            except services.StalePlan as stale:
                data = request.POST.copy()
                data["version"] = str(stale.current_version)
                form = form_class(data, **form_kwargs)
                form.is_valid()
                conflict = current() if current else []
            except ValidationError as error:
                _add_errors(form, error)
            else:
                record_request_event(request, Audit.CHANGE_PLAN, target=plan)
                messages.success(request, done)
                return redirect(plan_url(request, client, anchor=anchor))
    else:
        record_request_event(request, Audit.VIEW_PLAN, target=plan)
        form = form_class(initial={"version": plan.version, **initial}, **form_kwargs)
    return _form_page(
        request,
        client,
        form,
        title=title,
        intro=intro,
        action=request.path,
        anchor=anchor,
        remove_action=remove_action,
        remove_label=remove_label,
        conflict=conflict,
        submit=submit,
    )


def _remove(request, client, remove, *, done, anchor=""):
    form = VersionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Something was missing from the form. Nothing was removed.")
        return _back(request, client, anchor)
    try:
        remove(form.cleaned_data["version"])
    except services.StalePlan:
        messages.error(
            request,
            "The plan changed while you were looking at it, so nothing was removed. "
            "Please check the plan and try again.",
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        record_request_event(
            request, Audit.CHANGE_PLAN, target=client, detail={"change": "removed"}
        )
        messages.success(request, done)
    return _back(request, client, anchor)


def _day(value) -> str:
    return dateformat.format(value, "j F Y") if value else ""


def _staff_plan(request, client_id):
    client = access_client(request.membership, client_id)
    return client, access_plan(client, request.membership)


def _shared_plan(request, client_id):
    client = client_in_view(request, client_id)
    return client, access_plan(client, request.membership)


# --- The plan and its history -----------------------------------------------------------------


@require_GET
def plan_page(request, client_id=None):
    client = client_in_view(request, client_id)
    viewer = request.membership
    page = selectors.plan_page(client=client, viewer=viewer)
    mark_read(recipient=viewer, client=client, area="plan")
    record_staff_event(request, Audit.VIEW_PLAN, target=page.plan or client)
    context = {
        "client": client,
        "page": page,
        "plan": page.plan,
        "is_client": viewer.role == CLIENT,
        "can_edit": viewer.role != CLIENT and page.plan is not None and not client.is_discharged,
        "can_talk": page.plan is not None and not client.is_discharged,
        "scale": range(11),
    }
    if page.plan is not None and page.agreement.revision is not None:
        context["sign_form"] = SignForm(initial={"revision": page.agreement.revision.number})
        context["signer_names"] = services.expected_names(viewer, client)
        context["i_signed"] = page.agreement.signed_by(viewer)
    return render(request, "care/plans/plan.html", context)


@require_GET
def plan_history(request, client_id=None):
    client, plan = _shared_plan(request, client_id)
    record_staff_event(request, Audit.VIEW_PLAN, target=plan, detail={"page": "history"})
    context = {
        "client": client,
        "plan": plan,
        "revisions": selectors.revision_history(plan),
        "is_client": request.membership.role == CLIENT,
        "back": plan_url(request, client),
    }
    return render(request, "care/plans/history.html", context)


# --- Staff: starting, sharing, closing --------------------------------------------------------


@require_POST
def plan_start(request, client_id):
    client = access_client(request.membership, client_id)
    try:
        services.create_plan(**_service_kwargs(request), client=client)
    except ValidationError as error:
        messages.info(request, " ".join(error.messages))
    else:
        record_request_event(
            request, Audit.CHANGE_PLAN, target=client, detail={"change": "started"}
        )
        messages.success(
            request,
            "A draft plan was started. Only the care team can see it until you share it.",
        )
    return _back(request, client)


@require_POST
def plan_share(request, client_id):
    client, plan = _staff_plan(request, client_id)
    form = VersionForm(request.POST)
    version = form.cleaned_data["version"] if form.is_valid() else None
    if version is None:
        messages.error(request, "Something was missing from the form. The plan was not shared.")
        return _back(request, client)
    was_draft = plan.status == TreatmentPlan.Status.DRAFT
    try:
        services.share_plan(**_service_kwargs(request), plan=plan, version=version)
    except services.StalePlan:
        messages.error(
            request,
            "The plan changed while you were looking at it, so it was not shared yet. "
            "Please check it and share again.",
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        record_request_event(request, Audit.CHANGE_PLAN, target=plan, detail={"change": "shared"})
        if was_draft:
            messages.success(request, f"The plan is now shared with {client.first_name}.")
    return _back(request, client)


@require_POST
def plan_close(request, client_id):
    client, plan = _staff_plan(request, client_id)
    form = CloseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Tick the box to confirm. Nothing was changed.")
        return _back(request, client, "close")
    services.close_plan(**_service_kwargs(request), plan=plan)
    record_request_event(request, Audit.CHANGE_PLAN, target=plan, detail={"change": "closed"})
    messages.success(request, "The plan is closed. You can start a new one when you're ready.")
    return _back(request, client)


@require_http_methods(["GET", "POST"])
def plan_details(request, client_id):
    client, plan = _staff_plan(request, client_id)
    return _edit(
        request,
        client,
        plan,
        PlanDetailsForm,
        initial={
            "strengths": plan.strengths,
            "discharge_criteria": plan.discharge_criteria,
            "review_date": plan.review_date,
        },
        save=lambda data: services.update_plan_details(
            **_service_kwargs(request), plan=plan, **data
        ),
        title="Strengths, ending and review",
        done="Saved.",
        anchor="overview",
        current=lambda: _current_details(plan),
    )


def _current_details(plan):
    plan.refresh_from_db()
    return [
        ("Strengths", plan.strengths),
        ("How we'll know we're done", plan.discharge_criteria),
        ("Review date", _day(plan.review_date)),
    ]


# --- Staff: problems --------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def problem_add(request, client_id):
    client, plan = _staff_plan(request, client_id)
    return _edit(
        request,
        client,
        plan,
        ProblemForm,
        initial={},
        save=lambda data: services.add_problem(**_service_kwargs(request), plan=plan, **data),
        title="Add a problem or need",
        done="Problem or need added.",
        anchor="problems",
        submit="Add",
    )


@require_http_methods(["GET", "POST"])
def problem_edit(request, client_id, problem_id):
    client, plan = _staff_plan(request, client_id)
    problem = access_problem(plan, problem_id)
    return _edit(
        request,
        client,
        plan,
        ProblemForm,
        initial={"text": problem.text},
        save=lambda data: services.edit_problem(
            **_service_kwargs(request), problem=problem, **data
        ),
        title="Edit a problem or need",
        done="Saved.",
        anchor="problems",
        remove_action=plan_url(request, client, "plan_problem_remove", problem_id=problem.pk),
        remove_label="Remove this problem or need",
        current=lambda: _current_text("Problem or need", problem),
    )


def _current_text(label, item):
    fresh = type(item).objects.filter(pk=item.pk).first()
    if (
        fresh is None
        or getattr(fresh, "removed_at", None)
        or getattr(fresh, "status", "") == "removed"
    ):
        return [(label, "(removed in the meantime)")]
    return [(label, fresh.text)]


@require_POST
def problem_remove(request, client_id, problem_id):
    client, plan = _staff_plan(request, client_id)
    problem = access_problem(plan, problem_id)
    return _remove(
        request,
        client,
        lambda version: services.remove_problem(
            **_service_kwargs(request), problem=problem, version=version
        ),
        done="Problem or need removed.",
        anchor="problems",
    )


# --- Staff: goals -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def goal_add(request, client_id):
    client, plan = _staff_plan(request, client_id)

    return _edit(
        request,
        client,
        plan,
        GoalForm,
        initial={},
        form_kwargs={"plan": plan},
        save=lambda data: services.add_goal(**_service_kwargs(request), plan=plan, **data),
        title="Add a goal",
        done="Goal added.",
        anchor="goals",
        submit="Add goal",
        intro="Write the goal in the client's own words where you can.",
    )


@require_http_methods(["GET", "POST"])
def goal_edit(request, client_id, goal_id):
    client, plan = _staff_plan(request, client_id)
    goal = access_goal(plan, goal_id)
    return _edit(
        request,
        client,
        plan,
        GoalForm,
        initial={"text": goal.text, "problem": goal.problem_id, "status": goal.status},
        form_kwargs={"plan": plan, "with_status": True},
        save=lambda data: services.edit_goal(**_service_kwargs(request), goal=goal, **data),
        title="Edit a goal",
        done="Goal saved.",
        anchor=f"goal-{goal.pk}",
        remove_action=plan_url(request, client, "plan_goal_remove", goal_id=goal.pk),
        remove_label="Remove this goal",
        current=lambda: _current_text("Goal", goal),
    )


@require_POST
def goal_remove(request, client_id, goal_id):
    client, plan = _staff_plan(request, client_id)
    goal = access_goal(plan, goal_id)
    return _remove(
        request,
        client,
        lambda version: services.remove_goal(
            **_service_kwargs(request), goal=goal, version=version
        ),
        done="Goal removed.",
        anchor="goals",
    )


# --- Staff: objectives and interventions ------------------------------------------------------


@require_http_methods(["GET", "POST"])
def objective_add(request, client_id, goal_id):
    client, plan = _staff_plan(request, client_id)
    goal = access_goal(plan, goal_id)
    return _edit(
        request,
        client,
        plan,
        ObjectiveForm,
        initial={},
        save=lambda data: services.add_objective(**_service_kwargs(request), goal=goal, **data),
        title="Add an objective",
        intro=f"For the goal: “{goal.text}”",
        done="Objective added.",
        anchor=f"goal-{goal.pk}",
        submit="Add objective",
    )


@require_http_methods(["GET", "POST"])
def objective_edit(request, client_id, objective_id):
    client, plan = _staff_plan(request, client_id)
    objective = access_objective(plan, objective_id)
    return _edit(
        request,
        client,
        plan,
        ObjectiveForm,
        initial={
            "text": objective.text,
            "target": objective.target,
            "target_date": objective.target_date,
        },
        save=lambda data: services.edit_objective(
            **_service_kwargs(request), objective=objective, **data
        ),
        title="Edit an objective",
        intro=f"For the goal: “{objective.goal.text}”",
        done="Objective saved.",
        anchor=f"goal-{objective.goal_id}",
        remove_action=plan_url(request, client, "plan_objective_remove", objective_id=objective.pk),
        remove_label="Remove this objective",
        current=lambda: _current_objective(objective),
    )


def _current_objective(objective):
    fresh = type(objective).objects.filter(pk=objective.pk, removed_at__isnull=True).first()
    if fresh is None:
        return [("Objective", "(removed in the meantime)")]
    return [
        ("Objective", fresh.text),
        ("Target", fresh.target),
        ("Target date", _day(fresh.target_date)),
    ]


@require_POST
def objective_remove(request, client_id, objective_id):
    client, plan = _staff_plan(request, client_id)
    objective = access_objective(plan, objective_id)
    return _remove(
        request,
        client,
        lambda version: services.remove_objective(
            **_service_kwargs(request), objective=objective, version=version
        ),
        done="Objective removed.",
        anchor=f"goal-{objective.goal_id}",
    )


@require_http_methods(["GET", "POST"])
def intervention_add(request, client_id, goal_id):
    client, plan = _staff_plan(request, client_id)
    goal = access_goal(plan, goal_id)
    return _edit(
        request,
        client,
        plan,
        InterventionForm,
        initial={},
        save=lambda data: services.add_intervention(**_service_kwargs(request), goal=goal, **data),
        title="Add what we will do",
        intro=f"For the goal: “{goal.text}”",
        done="Added.",
        anchor=f"goal-{goal.pk}",
        submit="Add",
    )


@require_http_methods(["GET", "POST"])
def intervention_edit(request, client_id, intervention_id):
    client, plan = _staff_plan(request, client_id)
    intervention = access_intervention(plan, intervention_id)
    return _edit(
        request,
        client,
        plan,
        InterventionForm,
        initial={"text": intervention.text, "responsible": intervention.responsible},
        save=lambda data: services.edit_intervention(
            **_service_kwargs(request), intervention=intervention, **data
        ),
        title="Edit what we will do",
        intro=f"For the goal: “{intervention.goal.text}”",
        done="Saved.",
        anchor=f"goal-{intervention.goal_id}",
        remove_action=plan_url(
            request, client, "plan_intervention_remove", intervention_id=intervention.pk
        ),
        remove_label="Remove this",
        current=lambda: _current_text("What we will do", intervention),
    )


@require_POST
def intervention_remove(request, client_id, intervention_id):
    client, plan = _staff_plan(request, client_id)
    intervention = access_intervention(plan, intervention_id)
    return _remove(
        request,
        client,
        lambda version: services.remove_intervention(
            **_service_kwargs(request), intervention=intervention, version=version
        ),
        done="Removed.",
        anchor=f"goal-{intervention.goal_id}",
    )


# --- Staff: answering the client's suggestions ------------------------------------------------


@require_POST
def proposal_accept(request, client_id, proposal_id):
    client, plan = _staff_plan(request, client_id)
    proposal = access_proposal(plan, proposal_id)
    form = AcceptForm(request.POST)
    conflict = None
    if form.is_valid():
        try:
            services.accept_proposal(
                **_service_kwargs(request), proposal=proposal, **form.cleaned_data
            )
        except services.StalePlan as stale:
            data = request.POST.copy()
            data["version"] = str(stale.current_version)
            form = AcceptForm(data)
            form.is_valid()
            conflict = []
        except ValidationError as error:
            _add_errors(form, error)
        else:
            record_request_event(
                request, Audit.CHANGE_PLAN, target=proposal, detail={"change": "accepted"}
            )
            messages.success(request, "Accepted and added to the plan.")
            return _back(request, client, "suggestions")
    return _form_page(
        request,
        client,
        form,
        title="Accept a suggestion",
        intro=f"“{proposal.text}”",
        action=request.path,
        submit="Accept and add to the plan",
        anchor="suggestions",
        conflict=conflict,
    )


@require_POST
def proposal_decline(request, client_id, proposal_id):
    client, plan = _staff_plan(request, client_id)
    proposal = access_proposal(plan, proposal_id)
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            services.decline_proposal(
                **_service_kwargs(request), proposal=proposal, **form.cleaned_data
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            record_request_event(
                request, Audit.CHANGE_PLAN, target=proposal, detail={"change": "declined"}
            )
            messages.success(request, "Declined. The client can read your reason.")
            return _back(request, client, "suggestions")
    return _form_page(
        request,
        client,
        form,
        title="Decline a suggestion",
        intro=f"“{proposal.text}”",
        action=request.path,
        submit="Decline with this reason",
        anchor="suggestions",
    )


# --- Both sides: comments, progress, agreement ------------------------------------------------


def _comment(request, client, plan, goal=None):
    form = CommentForm(request.POST)
    anchor = f"goal-{goal.pk}" if goal else "comments"
    if form.is_valid():
        try:
            services.add_comment(
                **_service_kwargs(request), plan=plan, goal=goal, **form.cleaned_data
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            record_staff_event(
                request, Audit.CHANGE_PLAN, target=plan, detail={"change": "comment"}
            )
            messages.success(request, "Your comment was added.")
            return _back(request, client, anchor)
    title = "Comment on a goal" if goal else "Comment on the plan"
    return _form_page(
        request,
        client,
        form,
        title=title,
        intro=f"“{goal.text}”" if goal else "",
        action=request.path,
        submit="Send comment",
        anchor=anchor,
    )


@require_POST
def plan_comment(request, client_id=None):
    client, plan = _shared_plan(request, client_id)
    return _comment(request, client, plan)


@require_POST
def goal_comment(request, client_id=None, goal_id=None):
    client, plan = _shared_plan(request, client_id)
    return _comment(request, client, plan, access_goal(plan, goal_id))


@require_POST
def goal_rate(request, client_id=None, goal_id=None):
    client, plan = _shared_plan(request, client_id)
    goal = access_goal(plan, goal_id)
    form = RatingForm(request.POST)
    if form.is_valid():
        try:
            services.rate_progress(**_service_kwargs(request), goal=goal, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            record_staff_event(request, Audit.CHANGE_PLAN, target=goal, detail={"change": "rating"})
            messages.success(request, "Thank you. Your rating was saved.")
            return _back(request, client, f"goal-{goal.pk}")
    return _form_page(
        request,
        client,
        form,
        title="Rate your progress",
        intro=f"“{goal.text}”",
        action=request.path,
        submit="Save rating",
        anchor=f"goal-{goal.pk}",
    )


@require_POST
def plan_sign(request, client_id=None):
    client, plan = _shared_plan(request, client_id)
    form = SignForm(request.POST)
    if form.is_valid():
        try:
            services.sign_plan(
                **_service_kwargs(request),
                plan=plan,
                revision_number=form.cleaned_data["revision"],
                typed_name=form.cleaned_data["typed_name"],
            )
        except ValidationError as error:
            if getattr(error, "code", None) == "stale":
                messages.error(request, " ".join(error.messages))
                return _back(request, client, "agreement")
            _add_errors(form, error)
        else:
            record_staff_event(request, Audit.CHANGE_PLAN, target=plan, detail={"change": "signed"})
            messages.success(request, "Thank you. Your agreement to this version was recorded.")
            return _back(request, client, "agreement")
    return _form_page(
        request,
        client,
        form,
        title="Agree to the plan",
        action=request.path,
        submit="Agree to this version",
        anchor="agreement",
        intro="Type your full name to agree to the plan as it is now.",
    )


# --- The client: suggestions ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def propose_goal(request, goal_id=None):
    client = client_in_view(request)
    plan = access_plan(client, request.membership)
    goal = access_goal(plan, goal_id) if goal_id is not None else None
    form = ProposalForm(request.POST or None, initial={"text": goal.text} if goal else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.propose(**_service_kwargs(request), plan=plan, goal=goal, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(
                request,
                "Thank you. Your suggestion was sent to your care team; "
                "you'll see their answer on this page.",
            )
            return _back(request, client, "suggestions")
    if goal is None:
        title, intro = (
            "Suggest a new goal",
            "What would you like to work on? Your own words are best.",
        )
    else:
        title = "Suggest a change to a goal"
        intro = f"The goal now says: “{goal.text}”. Change the words below to how you'd put it."
    return _form_page(
        request,
        client,
        form,
        title=title,
        intro=intro,
        action=request.path,
        submit="Send suggestion",
        anchor=f"goal-{goal.pk}" if goal else "suggestions",
    )
