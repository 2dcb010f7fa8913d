from feedback.models.instruments import Instrument, InstrumentItem, InstrumentVersion
from feedback.models.responses import Answer, CheckinResponse

__all__ = ["Answer", "CheckinResponse", "Instrument", "InstrumentItem", "InstrumentVersion"]
