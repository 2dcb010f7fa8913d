"""Demo care for `seed_demo`: plans in realistic states, sessions, agenda items, an ending.

Everything goes through the same services the pages use, so the demo shows real revisions,
signatures and notifications. Each client is seeded once (a client with a plan is skipped).
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import Membership
from care.models import Client, Notification, ProgressRating, TreatmentPlan
from care.services import plans, requests, sessions
from feedback.demo import seed_history
from feedback.services.plans import ensure_measurement_plan
from portal.tenancy.models import Practice

TRAJECTORY_BY_NUMBER = {
    1: "steady", 2: "improving", 3: "repaired_rupture", 4: "open_rupture", 5: "safety",
    6: "improving", 7: "repaired_rupture",
}

# (problem, goal in the client's words, objective, target, intervention, who)
STORIES = [
    ("Low mood since the redundancy", "I want to enjoy my weekends again",
     "Plan one thing I look forward to each weekend", "4 weekends in a row",
     "Behavioural activation: plan and review pleasant activities", "Together"),
    ("Panic in crowded places", "Take the bus to work without dreading it",
     "Ride two stops with my breathing plan", "Twice a week",
     "Graded exposure, one step at a time", "Client, with practice between sessions"),
    ("Sleep is broken", "Wake up feeling rested most days",
     "Keep the same getting-up time", "5 days out of 7",
     "Sleep diary and stimulus control", "Client"),
    ("Arguments with my partner", "Talk about money without shouting",
     "Use the time-out plan when things heat up", "Every time it's needed",
     "Practise the speaker–listener technique in session", "Together"),
    ("Grief after losing my dad", "Be able to look at his photos",
     "Spend ten minutes with the photo album", "Once a week",
     "Grief-focused work and memory sharing", "Together"),
]
STRENGTHS = "Keeps going when things are hard; a loyal friend; good sense of humour."
DISCHARGE = "Most days feel manageable and I have my own tools for the harder ones."
PROPOSALS = [
    "I'd like a goal about getting back to the swimming pool.",
    "Could we add something about asking for help at work?",
]


def _at(practice: Practice, days: int, hour: int) -> datetime:
    tz = ZoneInfo(practice.time_zone)
    day = timezone.localdate(timezone=tz) + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=tz)


def _sessions(practice, clinician, client, number):
    hour = 9 + number % 8
    for weeks_ago in range(6, 0, -1):
        status = "no_show" if weeks_ago == 3 and number % 3 == 0 else "attended"
        sessions.schedule_session(
            practice=practice, actor=clinician, client=client,
            starts_at=_at(practice, -7 * weeks_ago, hour), status=status,
            modality="video" if number % 2 else "in_person",
        )
    if number % 3 == 1:  # seen yesterday: the worker sends this check-in when `make run` starts
        sessions.schedule_session(
            practice=practice, actor=clinician, client=client,
            starts_at=_at(practice, -1, hour), status="attended",
        )
    for days in (2 + number % 5, 9 + number % 5):
        sessions.schedule_session(
            practice=practice, actor=clinician, client=client, starts_at=_at(practice, days, hour)
        )


def _plan(practice, clinician, client_member, client, number) -> TreatmentPlan:
    story = STORIES[number % len(STORIES)]
    problem_text, goal_text, objective, target, intervention, who = story
    plan = plans.create_plan(
        practice=practice, actor=clinician, client=client, strengths=STRENGTHS,
        discharge_criteria=DISCHARGE,
        review_date=timezone.localdate() + timedelta(days=-3 if number == 4 else 60),
    )
    problem = plans.add_problem(practice=practice, actor=clinician, plan=plan, version=None,
                                text=problem_text)
    goal = plans.add_goal(practice=practice, actor=clinician, plan=plan, version=None,
                          text=goal_text, problem=problem)
    plans.add_objective(practice=practice, actor=clinician, goal=goal, version=None,
                        text=objective, target=target,
                        target_date=timezone.localdate() + timedelta(days=45))
    plans.add_intervention(practice=practice, actor=clinician, goal=goal, version=None,
                           text=intervention, responsible=who)
    second = STORIES[(number + 2) % len(STORIES)]
    goal2 = plans.add_goal(practice=practice, actor=clinician, plan=plan, version=None,
                           text=second[1])
    if number % 4 == 0:
        return plan  # still a draft: the clinician hasn't shared it yet
    plans.share_plan(practice=practice, actor=clinician, plan=plan)
    for weeks_ago, (mine, theirs) in zip((5, 3, 1), ((3, 2), (4, 4), (6, 5))):
        plans.rate_progress(practice=practice, actor=client_member, goal=goal, score=mine)
        plans.rate_progress(practice=practice, actor=clinician, goal=goal, score=theirs)
        # Spread the ratings over the past weeks so the chart shows a trend.
        recent = timezone.now() - timedelta(minutes=5)
        ProgressRating.objects.filter(goal=goal, created_at__gt=recent).update(
            created_at=timezone.now() - timedelta(weeks=weeks_ago)
        )
    plans.rate_progress(practice=practice, actor=client_member, goal=goal2, score=2 + number % 4)
    plans.add_comment(practice=practice, actor=client_member, plan=plan, goal=goal,
                      body="This one matters most to me right now.")
    if number % 4 in (1, 3):
        _sign_both(practice, clinician, client_member, client, plan)
    if number % 4 == 3:  # agreed, then changed: back under review until both sign again
        plans.edit_goal(practice=practice, actor=clinician, goal=goal2, version=None,
                        text=second[1] + ", a little at a time")
    if number % 4 == 2:
        plans.propose(practice=practice, actor=client_member, plan=plan,
                      text=PROPOSALS[number % len(PROPOSALS)])
    return plan


def _sign_both(practice, clinician, client_member, client, plan):
    number = plans.latest_revision(plan).number
    plans.sign_plan(practice=practice, actor=clinician, plan=plan, revision_number=number,
                    typed_name=clinician.user.get_full_name())
    plans.sign_plan(practice=practice, actor=client_member, plan=plan, revision_number=number,
                    typed_name=client.full_name)


def _agenda_and_requests(practice, clinician, client_member, client, number):
    sessions.add_agenda_item(practice=practice, actor=client_member, client=client,
                             text="How the week went with the new routine")
    if number % 2:
        sessions.add_agenda_item(practice=practice, actor=client_member, client=client,
                                 text="My family situation", kind="not_today")
    if number == 3:
        requests.create_request(practice=practice, actor=client_member, client=client,
                                kind="slower", reason="Last session felt like a lot.")
    if number == 2:  # an ending in progress
        requests.create_request(practice=practice, actor=client_member, client=client,
                                kind="end", reason="I think I've got what I came for.")
        ending = requests.open_termination_plan(
            practice=practice, actor=clinician, client=client, final_sessions=2,
            after_care="A check-in call two months after our last session. "
                       "You are welcome back any time.",
            referrals="Peer support group on Thursday evenings at the community centre.",
        )
        requests.comment_on_termination(practice=practice, actor=client_member, plan=ending,
                                        body="Could the last session be in person?")


def seed_client_care(practice: Practice, client: Client, number: int) -> None:
    if TreatmentPlan.objects.filter(client=client).exists():
        return
    client_member = client.membership
    team = [a.clinician for a in client.assignments.filter(ended_at__isnull=True)
            .select_related("clinician__user").order_by("started_at", "id")]
    clinician = team[0]
    _sessions(practice, clinician, client, number)
    _plan(practice, clinician, client_member, client, number)
    _agenda_and_requests(practice, clinician, client_member, client, number)
    # Nothing the seed did so far is e-mailed; only a pending suggestion shows as new.
    seeded = Notification.objects.filter(client=client)
    seeded.update(emailed_at=timezone.now())
    seeded.exclude(kind=Notification.Kind.PROPOSAL).update(read_at=timezone.now())
    # Months of check-ins; alerts raised on the way stay new for the clinician.
    seed_history(practice, client, TRAJECTORY_BY_NUMBER.get(number, "steady"), clinician,
                 care_team=team)
    ensure_measurement_plan(
        practice=practice, client=client, actor=clinician,
        count_from=timezone.now() - timedelta(days=2),
    )


def seed_care(practice: Practice) -> None:
    clients = Client.objects.select_related("membership").filter(
        membership__status=Membership.Status.ACTIVE
    )
    for client in clients:
        number = int(client.membership.email.split("@")[0].removeprefix("client") or 0)
        seed_client_care(practice, client, number)
