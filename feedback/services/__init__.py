"""Writes for feedback, one module per area; the functions callers use are re-exported here so
`from feedback import services` / `from feedback.services import ...` keep working.

- instruments: shipped and custom instruments and their versions
- responses: submitting and scoring check-in responses
- plans: practice defaults, measurement plans, the client's check-in preferences
- checkins: invitations (due, in session), taking a check-in, expiry and reminders
- emails: check-in e-mails (quiet hours, idempotent sending, the sweeper)
"""

from feedback.services.instruments import (
    CUSTOM_KEY_PREFIX,
    create_custom_instrument,
    current_version,
    install_standard_instruments,
    revise_custom_instrument,
    set_instrument_enabled,
    update_version,
)
from feedback.services.responses import mark_entered_in_error, submit_response

__all__ = [
    "CUSTOM_KEY_PREFIX",
    "create_custom_instrument",
    "current_version",
    "install_standard_instruments",
    "mark_entered_in_error",
    "revise_custom_instrument",
    "set_instrument_enabled",
    "submit_response",
    "update_version",
]
