"""Feedback forms, one module per area; the instrument forms are re-exported here."""

from feedback.forms.instruments import CustomInstrumentForm, add_service_error

__all__ = ["CustomInstrumentForm", "add_service_error"]
