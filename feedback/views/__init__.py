"""Feedback pages, one module per area (instruments, measurement plans, taking check-ins)."""

from feedback.views.instruments import (
    instrument_detail,
    instrument_edit,
    instrument_list,
    instrument_new,
    instrument_toggle,
)

__all__ = [
    "instrument_detail",
    "instrument_edit",
    "instrument_list",
    "instrument_new",
    "instrument_toggle",
]
