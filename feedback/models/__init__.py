from feedback.models.alerts import Alert  # rupture/safety alerts
from feedback.models.checkins import CheckinEmail, CheckinInvitation
from feedback.models.instruments import Instrument, InstrumentItem, InstrumentVersion
from feedback.models.plans import (
    Cadence,
    Channel,
    CheckinPreferences,
    FeedbackSettings,
    MeasurementPlan,
)
from feedback.models.reports import DigestEmail, ReportRun, ReportSnapshot
from feedback.models.responses import Answer, CheckinResponse

__all__ = [
    "Alert",
    "Answer",
    "Cadence",
    "Channel",
    "CheckinEmail",
    "CheckinInvitation",
    "CheckinPreferences",
    "CheckinResponse",
    "DigestEmail",
    "FeedbackSettings",
    "Instrument",
    "InstrumentItem",
    "InstrumentVersion",
    "MeasurementPlan",
    "ReportRun",
    "ReportSnapshot",
]
