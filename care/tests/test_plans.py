"""Collaborative treatment plans: building, sharing, talking about, rating and agreeing to a plan;
revisions with readable changes; concurrent edits; access; notifications; constant queries."""

import hashlib
import json
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from care.models import (
    Client,
    Comment,
    Notification,
    PlanGoal,
    PlanObjective,
    PlanProblem,
    PlanProposal,
    PlanRevision,
    PlanSignature,
    ProgressRating,
    TreatmentPlan,
)
from care.services import plans as services
from portal.testing import make_plan

STALE = (
    "The plan changed while you were editing. Your text is kept below; "
    "please review and save again."
)
SCORE_ERROR = "Choose a number from 0 to 10."


# --- helpers --------------------------------------------------------------------------------------


def browser_for(membership) -> HttpClient:
    http = HttpClient()
    http.force_login(membership.user)
    return http


def rename(membership, first, last):
    User.objects.filter(pk=membership.user_id).update(first_name=first, last_name=last)
    membership.user.refresh_from_db()


@pytest.fixture
def world(world_a):
    rename(world_a.admin, "Ada", "Adminton")
    rename(world_a.clinician, "Cleo", "Carefield")
    rename(world_a.clinician2, "Dev", "Deepwater")
    for client, (first, last) in [
        (world_a.client, ("Kim", "Solo")),
        (world_a.other_client, ("Otto", "Elsewhere")),
        (world_a.shared_client, ("Sia", "Together")),
    ]:
        Client.unscoped.filter(pk=client.pk).update(first_name=first, last_name=last)
        client.refresh_from_db()
        rename(client.membership, first, last)
    return world_a


def staff_url(world, suffix="", client=None):
    client = client or world.client
    return world.url(f"clients/{client.pk}/plan/{suffix}")


def my_url(world, suffix=""):
    return world.url(f"my/plan/{suffix}")


def plan_of(client) -> TreatmentPlan:
    return TreatmentPlan.unscoped.exclude(status="closed").get(client=client)


def revisions(plan) -> list[PlanRevision]:
    return list(PlanRevision.unscoped.filter(plan=plan).order_by("number"))


def latest(plan) -> PlanRevision:
    return revisions(plan)[-1]


def text_of(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def parts(world):
    """world.client's shared plan with one of everything (built by the clinician)."""
    return make_plan(
        practice=world.practice, client=world.client, clinician=world.clinician, text="Sleep"
    )


@pytest.fixture
def clinician(world):
    return browser_for(world.clinician)


@pytest.fixture
def me(world):
    """The client's own browser."""
    return browser_for(world.client.membership)


def row_counts():
    return {
        model.__name__: model.unscoped.count()
        for model in (
            TreatmentPlan,
            PlanGoal,
            PlanObjective,
            PlanRevision,
            PlanSignature,
            PlanProposal,
            ProgressRating,
            Comment,
        )
    }


# --- Starting and building a plan -----------------------------------------------------------------


def test_a_clinician_starts_a_draft_the_client_cannot_see(world, clinician, me):
    response = clinician.post(staff_url(world, "start/"), follow=True)
    assert response.status_code == 200
    plan = plan_of(world.client)
    assert plan.status == "draft"
    assert [r.changes for r in revisions(plan)] == [["Plan started"]]
    assert "A draft plan was started" in text_of(response)

    # Starting again (a double click) keeps the one plan.
    clinician.post(staff_url(world, "start/"))
    assert TreatmentPlan.unscoped.filter(client=world.client).count() == 1

    page = me.get(my_url(world))
    assert page.status_code == 200
    assert "isn't ready to see yet" in text_of(page)
    before = row_counts()
    assert me.get(my_url(world, "history/")).status_code == 404
    assert me.post(my_url(world, "comment/"), {"body": "hello"}).status_code == 404
    assert me.post(my_url(world, "suggest/"), {"text": "a goal"}).status_code == 404
    assert row_counts() == before


def test_staff_build_every_part_and_each_change_is_a_readable_revision(world, clinician):
    clinician.post(staff_url(world, "start/"))
    plan = plan_of(world.client)

    def post(suffix, data):
        plan.refresh_from_db()
        response = clinician.post(staff_url(world, suffix), {"version": plan.version, **data})
        assert response.status_code == 302, text_of(response)
        return latest(plan).changes

    assert post("problems/add/", {"text": "Can't sleep"}) == [
        'Problem or need added: "Can\'t sleep"'
    ]
    assert post("goals/add/", {"text": "Sleep through the night"}) == [
        'Goal added: "Sleep through the night"'
    ]
    goal = PlanGoal.unscoped.get(plan=plan)
    assert post(
        f"goals/{goal.pk}/objectives/add/",
        {
            "text": "Lights out by 11",
            "target": "5 nights a week",
            "target_date": "2026-06-30",
        },
    ) == [
        'Objective added to goal "Sleep through the night": "Lights out by 11"',
        'Objective "Lights out by 11": target set to "5 nights a week"',
        'Objective "Lights out by 11": target date set to 30 June 2026',
    ]
    assert post(
        f"goals/{goal.pk}/interventions/add/",
        {
            "text": "Sleep diary",
            "responsible": "Kim",
        },
    ) == [
        'Intervention added to goal "Sleep through the night": "Sleep diary"',
        'Intervention "Sleep diary": who does it set to "Kim"',
    ]
    assert post(
        "details/",
        {
            "strengths": "Curious",
            "discharge_criteria": "Sleeping 7 hours",
            "review_date": "2026-07-01",
        },
    ) == [
        'Strengths added: "Curious"',
        "How we'll know we're done added: \"Sleeping 7 hours\"",
        "Review date set to 1 July 2026",
    ]
    objective = PlanObjective.unscoped.get(goal=goal)
    assert post(
        f"objectives/{objective.pk}/",
        {
            "text": "Lights out by 11",
            "target": "every night",
            "target_date": "2026-06-30",
        },
    ) == ['Objective "Lights out by 11": target changed from "5 nights a week" to "every night"']
    problem = PlanProblem.unscoped.get(plan=plan)
    assert post(
        f"goals/{goal.pk}/",
        {
            "text": "Sleep well",
            "problem": problem.pk,
            "status": "achieved",
        },
    ) == [
        'Goal changed from "Sleep through the night" to "Sleep well"',
        'Goal "Sleep well" marked as achieved',
        'Goal "Sleep well" now addresses "Can\'t sleep"',
    ]
    assert post(f"goals/{goal.pk}/remove/", {}) == ['Goal removed: "Sleep well"']

    plan.refresh_from_db()
    history = revisions(plan)
    assert [r.number for r in history] == list(range(1, 10))
    assert plan.version == 9
    assert all(r.author_id == world.clinician.pk for r in history)
    # The stored hash is the sha256 of the canonical JSON of the stored snapshot.
    for revision in history:
        canonical = json.dumps(
            revision.content, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        assert revision.content_hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert history[-1].content["goals"] == []
    assert history[-2].content["goals"][0]["objectives"][0]["target"] == "every night"

    page = clinician.get(staff_url(world, "history/"))
    body = text_of(page)
    assert "Version 9" in body and "changed by you" in body
    assert "target changed from &quot;5 nights a week&quot; to &quot;every night&quot;" in body


def test_saving_without_a_change_makes_no_revision(world, clinician, parts):
    plan = parts.plan
    plan.refresh_from_db()
    before = (plan.version, len(revisions(plan)))
    response = clinician.post(
        staff_url(world, f"goals/{parts.goal.pk}/"),
        {
            "version": plan.version,
            "text": parts.goal.text,
            "problem": parts.problem.pk,
            "status": "active",
        },
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.version, len(revisions(plan))) == before


def test_an_empty_goal_is_refused_with_a_message_and_nothing_saved(world, clinician, parts):
    plan = plan_of(world.client)
    before = row_counts()
    response = clinician.post(
        staff_url(world, "goals/add/"), {"version": plan.version, "text": "  "}
    )
    assert response.status_code == 200
    assert "This field is required." in text_of(response)
    assert row_counts() == before


# --- Concurrent edits -----------------------------------------------------------------------------


def test_a_stale_edit_keeps_the_text_saves_nothing_and_can_be_saved_again(world, clinician, parts):
    plan = plan_of(world.client)
    seen_version = plan.version
    # Someone else changes the goal while the clinician has the form open.
    colleague = browser_for(world.admin)
    colleague.post(
        staff_url(world, f"goals/{parts.goal.pk}/"),
        {
            "version": seen_version,
            "text": "Sleep, the admin's wording",
            "status": "active",
        },
    )
    plan.refresh_from_db()
    assert plan.version == seen_version + 1
    count = len(revisions(plan))

    mine = {"version": seen_version, "text": "Sleep <b>my</b> wording", "status": "active"}
    response = clinician.post(staff_url(world, f"goals/{parts.goal.pk}/"), mine)

    assert response.status_code == 200
    body = text_of(response)
    assert STALE in body
    assert "Sleep &lt;b&gt;my&lt;/b&gt; wording</textarea>" in body  # the input, kept (escaped)
    assert "Sleep, the admin&#x27;s wording" in body  # what the plan says now
    assert PlanGoal.unscoped.get(pk=parts.goal.pk).text == "Sleep, the admin's wording"
    assert len(revisions(plan)) == count
    # The re-rendered form carries the current version: saving again now works.
    assert re.search(rf'name="version" value="{seen_version + 1}"', body)
    again = clinician.post(
        staff_url(world, f"goals/{parts.goal.pk}/"), {**mine, "version": seen_version + 1}
    )
    assert again.status_code == 302
    assert PlanGoal.unscoped.get(pk=parts.goal.pk).text == "Sleep <b>my</b> wording"


def test_a_double_submitted_add_form_adds_once(world, clinician, parts):
    plan = plan_of(world.client)
    data = {"version": plan.version, "text": "Walk daily"}
    first = clinician.post(staff_url(world, "goals/add/"), data)
    second = clinician.post(staff_url(world, "goals/add/"), data)
    assert first.status_code == 302
    assert second.status_code == 200 and STALE in text_of(second)
    assert PlanGoal.unscoped.filter(plan=plan, text="Walk daily").count() == 1


def test_a_stale_remove_removes_nothing(world, clinician, parts):
    plan = plan_of(world.client)
    response = clinician.post(
        staff_url(world, f"goals/{parts.goal.pk}/remove/"),
        {"version": plan.version - 1},
        follow=True,
    )
    assert "nothing was removed" in text_of(response)
    assert PlanGoal.unscoped.get(pk=parts.goal.pk).status == "active"


def test_the_service_refuses_a_stale_version(world, parts):
    plan = plan_of(world.client)
    with world.scope(), pytest.raises(services.StalePlan) as refused:
        services.add_goal(
            practice=world.practice,
            actor=world.clinician,
            plan=plan,
            version=plan.version - 1,
            text="x",
        )
    assert refused.value.messages == [STALE]
    assert refused.value.current_version == plan.version


# --- Sharing and closing --------------------------------------------------------------------------


def test_sharing_needs_a_goal_and_then_tells_the_client(world, clinician, me):
    clinician.post(staff_url(world, "start/"))
    plan = plan_of(world.client)
    response = clinician.post(staff_url(world, "share/"), {"version": plan.version}, follow=True)
    assert "Add at least one goal before sharing the plan." in text_of(response)
    assert plan_of(world.client).status == "draft"
    assert not Notification.unscoped.filter(recipient=world.client.membership).exists()

    with world.scope():
        services.add_goal(
            practice=world.practice,
            actor=world.clinician,
            plan=plan,
            version=None,
            text="Feel calmer at work",
        )
    plan.refresh_from_db()
    clinician.post(staff_url(world, "share/"), {"version": plan.version})
    assert plan_of(world.client).status == "proposed"
    assert (
        Notification.unscoped.filter(recipient=world.client.membership, kind="plan_changed").count()
        == 1
    )
    page = me.get(my_url(world))
    assert "Feel calmer at work" in text_of(page)
    assert "Waiting for your signature" in text_of(page)
    assert "Waiting for Cleo Carefield's signature" in text_of(page)


def test_closing_needs_a_tick_and_lets_a_new_plan_start(world, clinician, me, parts):
    response = clinician.post(staff_url(world, "close/"), {}, follow=True)
    assert "Tick the box to confirm" in text_of(response)
    assert plan_of(world.client).pk == parts.plan.pk

    clinician.post(staff_url(world, "close/"), {"confirm": "on"})
    assert TreatmentPlan.unscoped.get(pk=parts.plan.pk).status == "closed"
    assert "isn't ready to see yet" in text_of(me.get(my_url(world)))
    assert me.get(my_url(world, "history/")).status_code == 404
    clinician.post(staff_url(world, "start/"))
    assert plan_of(world.client).pk != parts.plan.pk


# --- Agreement ------------------------------------------------------------------------------------


def test_both_sign_the_same_revision_and_the_plan_is_agreed(world, clinician, me, parts):
    plan = plan_of(world.client)
    current = latest(plan)

    wrong = me.post(my_url(world, "sign/"), {"revision": current.number, "typed_name": "Kim Sol"})
    assert wrong.status_code == 200
    assert "Please type your full name as it appears here: Kim Solo." in text_of(wrong)
    assert not PlanSignature.unscoped.exists()

    me.post(my_url(world, "sign/"), {"revision": current.number, "typed_name": "  kim   SOLO "})
    (signature,) = PlanSignature.unscoped.all()
    assert (signature.signer_id, signature.signer_role) == (world.client.membership_id, "client")
    assert signature.revision_id == current.pk
    assert signature.content_hash == current.content_hash
    assert plan_of(world.client).status == "proposed"
    page = text_of(me.get(my_url(world)))
    assert "Waiting for Cleo Carefield's signature" in page
    assert "Waiting for your signature" not in page

    # A double submit records one signature.
    me.post(my_url(world, "sign/"), {"revision": current.number, "typed_name": "Kim Solo"})
    assert PlanSignature.unscoped.count() == 1

    clinician.post(
        staff_url(world, "sign/"), {"revision": current.number, "typed_name": "Cleo Carefield"}
    )
    assert plan_of(world.client).status == "agreed"
    assert {s.content_hash for s in PlanSignature.unscoped.all()} == {current.content_hash}
    today = timezone.localdate().strftime("%-d %B %Y")
    assert f"Agreed by both on {today}." in text_of(me.get(my_url(world)))
    assert f"Agreed by both on {today}." in text_of(clinician.get(staff_url(world)))


def test_a_later_change_voids_the_agreement_until_both_sign_again(world, clinician, me, parts):
    plan = plan_of(world.client)
    agreed = latest(plan)
    with world.scope():
        for actor, name in (
            (world.client.membership, "Kim Solo"),
            (world.clinician, "Cleo Carefield"),
        ):
            services.sign_plan(
                practice=world.practice,
                actor=actor,
                plan=plan,
                revision_number=agreed.number,
                typed_name=name,
            )
    assert plan_of(world.client).status == "agreed"

    plan.refresh_from_db()
    clinician.post(
        staff_url(world, f"objectives/{parts.objective.pk}/"),
        {
            "version": plan.version,
            "text": parts.objective.text,
            "target": "every night",
        },
    )
    plan.refresh_from_db()
    assert plan.status == "under_review"
    changed = latest(plan)
    assert changed.number == agreed.number + 1
    page = text_of(me.get(my_url(world)))
    assert "The plan changed after it was agreed" in page
    assert "Waiting for your signature" in page
    assert "Agreed by both" not in page

    # Signing the old revision is refused: the client has to read the new one.
    response = me.post(
        my_url(world, "sign/"), {"revision": agreed.number, "typed_name": "Kim Solo"}, follow=True
    )
    assert "The plan changed since you opened it" in text_of(response)
    assert PlanSignature.unscoped.filter(revision=changed).count() == 0

    me.post(my_url(world, "sign/"), {"revision": changed.number, "typed_name": "Kim Solo"})
    clinician.post(
        staff_url(world, "sign/"), {"revision": changed.number, "typed_name": "cleo carefield"}
    )
    assert plan_of(world.client).status == "agreed"
    assert PlanSignature.unscoped.filter(revision=agreed).count() == 2  # history kept


def test_nobody_signs_a_draft(world, clinician):
    clinician.post(staff_url(world, "start/"))
    plan = plan_of(world.client)
    response = clinician.post(
        staff_url(world, "sign/"), {"revision": 1, "typed_name": "Cleo Carefield"}
    )
    assert "Share the plan with the client before anyone signs it." in text_of(response)
    assert not PlanSignature.unscoped.filter(plan=plan).exists()


# --- Suggestions ----------------------------------------------------------------------------------


def test_the_client_suggests_a_goal_and_the_clinician_accepts_it(world, clinician, me, parts):
    response = me.post(my_url(world, "suggest/"), {"text": "Go swimming again"})
    assert response.status_code == 302
    proposal = PlanProposal.unscoped.get(text="Go swimming again")
    assert (proposal.kind, proposal.status, proposal.goal_id) == ("new_goal", "pending", None)
    assert Notification.unscoped.filter(recipient=world.clinician, kind="proposal").exists()

    plan = plan_of(world.client)
    page = text_of(clinician.get(staff_url(world)))
    assert "Go swimming again" in page and "Accept and add to the plan" in page

    clinician.post(
        staff_url(world, f"suggestions/{proposal.pk}/accept/"), {"version": plan.version}
    )
    clinician.post(
        staff_url(world, f"suggestions/{proposal.pk}/accept/"), {"version": plan.version}
    )
    proposal.refresh_from_db()
    assert proposal.status == "accepted" and proposal.responded_by_id == world.clinician.pk
    assert PlanGoal.unscoped.filter(plan=plan, text="Go swimming again").count() == 1
    assert latest(plan).changes == ['Goal added: "Go swimming again"']
    assert latest(plan).author_id == world.clinician.pk
    assert (
        Notification.unscoped.filter(
            recipient=world.client.membership, kind="proposal_answered"
        ).count()
        == 1
    )
    assert "Accepted" in text_of(me.get(my_url(world)))


def test_a_change_to_a_goal_is_applied_as_a_new_revision(world, clinician, me, parts):
    me.post(my_url(world, f"goals/{parts.goal.pk}/suggest/"), {"text": "Sleep 7 hours"})
    proposal = PlanProposal.unscoped.get(goal=parts.goal)
    assert proposal.kind == "change_goal"
    plan = plan_of(world.client)
    clinician.post(
        staff_url(world, f"suggestions/{proposal.pk}/accept/"),
        {"version": plan.version, "response": "Good idea"},
    )
    assert PlanGoal.unscoped.get(pk=parts.goal.pk).text == "Sleep 7 hours"
    assert latest(plan).changes == ['Goal changed from "Sleep: goal" to "Sleep 7 hours"']


def test_a_decline_needs_a_reason_which_the_client_reads(world, clinician, me, parts):
    proposal = parts.proposal
    response = clinician.post(
        staff_url(world, f"suggestions/{proposal.pk}/decline/"), {"reason": ""}
    )
    assert response.status_code == 200
    assert "Please give the client a short reason." in text_of(response)
    proposal.refresh_from_db()
    assert proposal.status == "pending"

    clinician.post(
        staff_url(world, f"suggestions/{proposal.pk}/decline/"),
        {"reason": "Let's focus on sleep first"},
    )
    proposal.refresh_from_db()
    assert (proposal.status, proposal.response) == ("declined", "Let's focus on sleep first")
    page = text_of(me.get(my_url(world)))
    assert "Declined" in page and "Let&#x27;s focus on sleep first" in page
    assert PlanGoal.unscoped.filter(text=proposal.text).count() == 0


def test_staff_cannot_suggest_and_clients_cannot_answer(world, clinician, me, parts):
    before = row_counts()
    assert clinician.post(world.url("my/plan/suggest/"), {"text": "x"}).status_code == 404
    assert (
        me.post(
            staff_url(world, f"suggestions/{parts.proposal.pk}/accept/"), {"version": 99}
        ).status_code
        == 404
    )
    with world.scope(), pytest.raises(ValidationError):
        services.propose(practice=world.practice, actor=world.clinician, plan=parts.plan, text="x")
    assert row_counts() == before


# --- Ratings and the chart ------------------------------------------------------------------------


@pytest.mark.parametrize("score", ["-1", "11", "abc", "", "5.5"])
def test_a_rating_out_of_range_is_refused_with_a_message(world, me, parts, score):
    before = row_counts()
    response = me.post(my_url(world, f"goals/{parts.goal.pk}/rate/"), {"score": score})
    assert response.status_code == 200
    assert SCORE_ERROR in text_of(response)
    assert row_counts() == before


@pytest.mark.parametrize("score", [-1, 11, "abc", None])
def test_the_rating_service_refuses_out_of_range_scores(world, parts, score):
    with world.scope(), pytest.raises(ValidationError) as refused:
        services.rate_progress(
            practice=world.practice, actor=world.client.membership, goal=parts.goal, score=score
        )
    assert refused.value.messages == [SCORE_ERROR]


def test_both_sides_rate_and_the_chart_shows_both_series(world, clinician, me, parts):
    goal = parts.goal
    ProgressRating.unscoped.filter(goal=goal).update(created_at=timezone.now() - timedelta(days=9))
    assert me.post(my_url(world, f"goals/{goal.pk}/rate/"), {"score": "7"}).status_code == 302
    assert me.post(my_url(world, f"goals/{goal.pk}/rate/"), {"score": "7"}).status_code == 302
    clinician.post(staff_url(world, f"goals/{goal.pk}/rate/"), {"score": "0"})
    clinician.post(staff_url(world, f"goals/{goal.pk}/rate/"), {"score": "10"})
    ratings = list(ProgressRating.unscoped.filter(goal=goal).values_list("rater_role", "score"))
    # The second identical client rating was a double submit.
    assert ratings == [("client", 4), ("client", 7), ("clinician", 0), ("clinician", 10)]

    body = text_of(me.get(my_url(world)))
    svg = re.search(r'<svg class="chart-svg".*?</svg>', body, re.DOTALL).group(0)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "Your latest rating: 7 out of 10" in svg
    assert "Care team's latest rating: 10 out of 10" in svg
    assert svg.count("<circle") == 2 and svg.count("<rect") == 2
    assert 'stroke-dasharray="6 4"' in svg  # the care team's line is dashed, the client's solid
    assert "style=" not in svg
    table = re.search(r'<details class="chart-table">.*?</details>', body, re.DOTALL).group(0)
    assert table.count("<tr>") == 5  # header + 4 ratings
    assert "You</td><td>7</td>" in table
    assert "Cleo Carefield (care team)</td><td>10</td>" in table


def test_the_rating_control_is_a_labelled_radio_group(world, me, parts):
    body = text_of(me.get(my_url(world)))
    form = re.search(r"<form[^>]*rating-form.*?</form>", body, re.DOTALL).group(0)
    assert (
        "<fieldset" in form and "<legend>How far along does this goal feel today?</legend>" in form
    )
    assert [int(v) for v in re.findall(r'type="radio" name="score" value="(\d+)"', form)] == list(
        range(11)
    )


# --- Comments, escaping, notifications ------------------------------------------------------------


def test_hostile_comments_are_escaped(world, clinician, me, parts):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    me.post(my_url(world, "comment/"), {"body": hostile})
    me.post(my_url(world, f"goals/{parts.goal.pk}/comment/"), {"body": hostile})
    for page in (clinician.get(staff_url(world)), me.get(my_url(world))):
        body = text_of(page)
        assert "<script>alert" not in body and "<img src=x" not in body
        assert body.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") == 2


def test_a_double_submitted_comment_is_stored_once(world, me, parts):
    for _ in range(2):
        me.post(my_url(world, "comment/"), {"body": "Thanks for this"})
    assert Comment.unscoped.filter(body="Thanks for this").count() == 1


def test_an_oversized_comment_is_refused_and_kept(world, me, parts):
    before = row_counts()
    response = me.post(my_url(world, "comment/"), {"body": "x" * 5001})
    assert response.status_code == 200
    assert "Please keep comments under 5000 characters (this one has 5001)." in text_of(response)
    assert "x" * 5001 in text_of(response)
    assert row_counts() == before


def test_client_news_reaches_the_care_team_by_a_link_only_email(
    world, me, parts, django_capture_on_commit_callbacks
):
    shared = world.shared_client
    with world.scope():
        make_plan(practice=world.practice, client=shared, clinician=world.clinician, text="Work")
    Notification.unscoped.all().delete()
    mail.outbox.clear()
    http = browser_for(shared.membership)
    with django_capture_on_commit_callbacks(execute=True):
        http.post(my_url(world, "comment/"), {"body": "My secret worry about work"})
    assert set(Notification.unscoped.values_list("recipient_id", "kind")) == {
        (world.clinician.pk, "comment"),
        (world.clinician2.pk, "comment"),
    }
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [world.clinician.user.email, world.clinician2.user.email]
    )
    for message in mail.outbox:
        text = message.subject + message.body
        assert f"/p/{world.practice.slug}/clients/{shared.pk}/" in message.body
        for secret in ("secret worry", "Sia", "Together", "Cleo", "Carefield", "Work"):
            assert secret not in text


def test_staff_news_reaches_the_client_and_opening_the_plan_reads_it(
    world, clinician, me, parts, django_capture_on_commit_callbacks
):
    Notification.unscoped.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        clinician.post(staff_url(world, f"goals/{parts.goal.pk}/comment/"), {"body": "Well done"})
    (note,) = Notification.unscoped.all()
    assert (note.recipient_id, note.kind, note.area) == (
        world.client.membership_id,
        "comment",
        "plan",
    )
    (message,) = mail.outbox
    assert "Well done" not in message.body and "Cleo" not in message.body

    first = text_of(me.get(my_url(world)))
    assert re.search(r"Well done</p>", first)
    assert '<span class="badge new">new</span>' in first
    assert Notification.unscoped.get(pk=note.pk).read_at is not None
    assert '<span class="badge new">new</span>' not in text_of(me.get(my_url(world)))


def test_many_staff_edits_leave_one_unread_plan_changed_note(world, clinician, parts):
    Notification.unscoped.all().delete()
    for text in ("one", "two", "three"):
        plan = plan_of(world.client)
        clinician.post(staff_url(world, "problems/add/"), {"version": plan.version, "text": text})
    assert Notification.unscoped.filter(kind="plan_changed").count() == 1


def test_panels_show_status_suggestions_and_a_due_review(world, clinician, me, parts):
    TreatmentPlan.unscoped.filter(pk=parts.plan.pk).update(
        review_date=timezone.localdate() - timedelta(days=1)
    )
    staff_page = text_of(clinician.get(world.url(f"clients/{world.client.pk}/")))
    assert "Treatment plan" in staff_page
    assert "Waiting for agreement" in staff_page
    assert "1 suggestion waiting for an answer" in staff_page
    assert "Plan review due" in staff_page
    assert staff_url(world) in staff_page

    home = text_of(me.get(world.url()))
    assert "Your plan" in home and my_url(world) in home
    assert "Plan review due" in home

    plan_page = text_of(me.get(my_url(world)))
    assert "Plan review due" in plan_page


# --- Access: other clients, other clinicians, other practices -------------------------------------


def test_a_client_cannot_reach_another_clients_plan_parts(world, parts):
    other = make_plan(
        practice=world.practice, client=world.shared_client, clinician=world.clinician, text="Other"
    )
    me = browser_for(world.client.membership)
    before = row_counts()
    for suffix, data in [
        (f"goals/{other.goal.pk}/comment/", {"body": "hi"}),
        (f"goals/{other.goal.pk}/rate/", {"score": "5"}),
        (f"goals/{other.goal.pk}/suggest/", {"text": "x"}),
    ]:
        assert me.post(my_url(world, suffix), data).status_code == 404, suffix
    assert me.get(my_url(world, f"goals/{other.goal.pk}/suggest/")).status_code == 404
    assert row_counts() == before


def test_a_clinician_not_on_the_team_gets_404_and_changes_nothing(world, parts):
    outsider = browser_for(world.clinician2)
    plan = plan_of(world.client)
    before = row_counts()
    assert outsider.get(staff_url(world)).status_code == 404
    for suffix, data in [
        ("start/", {}),
        ("goals/add/", {"version": plan.version, "text": "x"}),
        (f"goals/{parts.goal.pk}/", {"version": plan.version, "text": "x"}),
        (f"goals/{parts.goal.pk}/remove/", {"version": plan.version}),
        (f"goals/{parts.goal.pk}/comment/", {"body": "x"}),
        (f"goals/{parts.goal.pk}/rate/", {"score": "3"}),
        ("sign/", {"revision": latest(plan).number, "typed_name": "Dev Deepwater"}),
        (f"suggestions/{parts.proposal.pk}/accept/", {"version": plan.version}),
        ("close/", {"confirm": "on"}),
    ]:
        assert outsider.post(staff_url(world, suffix), data).status_code == 404, suffix
    assert row_counts() == before


def test_a_goal_of_one_client_under_another_clients_url_is_404(world, clinician, parts):
    other = make_plan(
        practice=world.practice, client=world.shared_client, clinician=world.clinician, text="Other"
    )
    plan = plan_of(world.client)
    before = row_counts()
    # world.client's URL, the shared client's goal: the goal is not in this plan.
    response = clinician.post(
        staff_url(world, f"goals/{other.goal.pk}/"), {"version": plan.version, "text": "hijack"}
    )
    assert response.status_code == 404
    assert (
        clinician.post(
            staff_url(world, f"suggestions/{other.proposal.pk}/decline/"), {"reason": "no"}
        ).status_code
        == 404
    )
    assert row_counts() == before


def test_other_practices_ids_are_404(world, world_b):
    b = make_plan(
        practice=world_b.practice, client=world_b.client, clinician=world_b.clinician, text="Bravo"
    )
    clinician = browser_for(world.clinician)
    make_plan(practice=world.practice, client=world.client, clinician=world.clinician)
    plan = plan_of(world.client)
    before = row_counts()
    assert clinician.get(staff_url(world, f"goals/{b.goal.pk}/")).status_code == 404
    assert (
        clinician.post(staff_url(world, f"goals/{b.goal.pk}/comment/"), {"body": "x"}).status_code
        == 404
    )
    assert clinician.get(world.url(f"clients/{world_b.client.pk}/plan/")).status_code == 404
    assert (
        clinician.post(
            staff_url(world, f"suggestions/{b.proposal.pk}/accept/"), {"version": plan.version}
        ).status_code
        == 404
    )
    assert row_counts() == before


def test_an_admin_can_do_what_the_clinician_can(world, parts):
    admin = browser_for(world.admin)
    plan = plan_of(world.client)
    assert admin.get(staff_url(world)).status_code == 200
    admin.post(staff_url(world, "goals/add/"), {"version": plan.version, "text": "Admin goal"})
    assert PlanGoal.unscoped.filter(plan=plan, text="Admin goal").exists()


# --- Constant queries -----------------------------------------------------------------------------


def grow(world, client, goals: int, per_goal: int):
    """A plan with `goals` goals, each with `per_goal` of everything, and many revisions."""
    staff = {"practice": world.practice, "actor": world.clinician}
    me = {"practice": world.practice, "actor": client.membership}
    with world.scope():
        plan = services.create_plan(**staff, client=client)
        for p in range(3):
            services.add_problem(**staff, plan=plan, version=None, text=f"problem {p}")
        made = [
            services.add_goal(**staff, plan=plan, version=None, text=f"goal {g}")
            for g in range(goals)
        ]
        services.share_plan(**staff, plan=plan)
        for goal in made:
            for i in range(per_goal):
                services.add_objective(**staff, goal=goal, version=None, text=f"o{i}", target="t")
                services.add_intervention(
                    **staff, goal=goal, version=None, text=f"i{i}", responsible="us"
                )
                services.add_comment(**me, plan=plan, goal=goal, body=f"client {i}")
                services.add_comment(**staff, plan=plan, goal=goal, body=f"staff {i}")
                services.propose(**me, plan=plan, goal=goal, text=f"change {i}")
        ProgressRating.objects.bulk_create(
            ProgressRating(
                practice=world.practice,
                goal=goal,
                rated_by=rater,
                rater_role=rater.role,
                score=(i % 11),
                created_at=timezone.now() - timedelta(days=i),
            )
            for goal in made
            for i in range(per_goal * 2)
            for rater in (client.membership, world.clinician)
        )
        for i in range(per_goal):
            services.add_comment(**me, plan=plan, body=f"plan comment {i}")
    return plan


def count_queries(http, url) -> int:
    http.get(url)  # warm up
    with CaptureQueriesContext(connection) as queries:
        response = http.get(url)
    assert response.status_code == 200
    return len(queries)


def test_plan_pages_run_a_constant_number_of_queries(world):
    small, big = world.client, world.shared_client
    grow(world, small, goals=2, per_goal=1)
    grow(world, big, goals=20, per_goal=4)
    assert PlanRevision.unscoped.filter(plan__client=big).count() > 100
    staff = browser_for(world.clinician)
    for suffix in ("", "history/"):
        small_count = count_queries(staff, staff_url(world, suffix, client=small))
        big_count = count_queries(staff, staff_url(world, suffix, client=big))
        assert small_count == big_count, suffix
    client_small = count_queries(browser_for(small.membership), my_url(world))
    client_big = count_queries(browser_for(big.membership), my_url(world))
    assert client_small == client_big
    staff_detail = [count_queries(staff, world.url(f"clients/{c.pk}/")) for c in (small, big)]
    assert staff_detail[0] == staff_detail[1]
    home = [count_queries(browser_for(c.membership), world.url()) for c in (small, big)]
    assert home[0] == home[1]


def test_a_discharged_client_reads_the_plan_but_nothing_changes(world, me, parts):
    Client.unscoped.filter(pk=world.client.pk).update(discharged_at=timezone.now())
    page = me.get(my_url(world))
    assert page.status_code == 200
    body = text_of(page)
    assert "Sleep: goal" in body
    assert 'name="body"' not in body and 'name="score"' not in body
    before = row_counts()
    response = me.post(my_url(world, "comment/"), {"body": "still here"})
    assert response.status_code == 200
    assert "Care with the practice has ended" in text_of(response)
    assert row_counts() == before


def test_staff_see_what_the_agreement_is_waiting_for(world, clinician, parts):
    body = text_of(clinician.get(staff_url(world)))
    assert "Waiting for Kim's signature" in body
    assert "Waiting for a signature from the care team" in body
