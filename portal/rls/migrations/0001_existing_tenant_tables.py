"""Row-level security for every tenant table that existed when RLS arrived.

Tables created later get EnableRowLevelSecurity in their own app's migration.
"""

from django.db import migrations

from portal.rls.operations import EnableRowLevelSecurity

TENANT_MODELS = {
    "accounts": ["Membership", "Invitation"],
    "care": [
        "Client",
        "CaseloadAssignment",
        "TreatmentPlan",
        "PlanProblem",
        "PlanGoal",
        "PlanObjective",
        "PlanIntervention",
        "PlanRevision",
        "PlanSignature",
        "PlanProposal",
        "ProgressRating",
        "CareRequest",
        "TerminationPlan",
        "Comment",
        "Notification",
        "TherapySession",
        "AgendaItem",
    ],
    "feedback": [
        "Instrument",
        "InstrumentVersion",
        "InstrumentItem",
        "CheckinResponse",
        "Answer",
        "Alert",
        "FeedbackSettings",
        "MeasurementPlan",
        "CheckinPreferences",
        "CheckinInvitation",
        "CheckinEmail",
    ],
}


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0001_initial"),
        ("accounts", "0001_initial"),
        ("care", "0003_notification_kinds"),
        ("feedback", "0004_alerts"),
    ]

    operations = [
        EnableRowLevelSecurity(app_label, model_name)
        for app_label, names in TENANT_MODELS.items()
        for model_name in names
    ]
