"""Test helpers for instruments and check-ins (see also portal/testing.py).

Factories write through `unscoped`, like portal.testing's. `PracticeWithInstrumentsFactory`
is a practice that has the shipped instruments, as every practice should once
accounts.services.create_practice installs them.
"""

import factory

from feedback.models import Instrument, InstrumentItem, InstrumentVersion
from feedback.services import install_standard_instruments
from portal.testing import PracticeFactory, UnscopedFactory


class PracticeWithInstrumentsFactory(PracticeFactory):
    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def instruments(self, create, extracted, **kwargs):
        if create:
            install_standard_instruments(self)


class InstrumentFactory(UnscopedFactory):
    """A small custom instrument: `InstrumentFactory(practice=p)` has version 1 with two
    questions answered 0–4 and summed; pass `items=3` for more."""

    class Meta:
        model = Instrument
        skip_postgeneration_save = True

    practice = factory.SubFactory(PracticeFactory)
    key = factory.Sequence(lambda n: f"custom-test-{n}")
    name = factory.Sequence(lambda n: f"Test instrument {n}")
    kind = Instrument.Kind.OUTCOME
    source = Instrument.Source.CUSTOM
    licence_note = "Test licence"

    @factory.post_generation
    def items(self, create, extracted, **kwargs):
        if not create:
            return
        version = InstrumentVersion.unscoped.create(
            practice=self.practice,
            instrument=self,
            number=1,
            scale_min=0,
            scale_max=4,
            anchors=[{"value": 0, "label": "Never"}, {"value": 4, "label": "Always"}],
            scoring_rule="sum",
            higher_is_better=False,
        )
        InstrumentItem.unscoped.bulk_create(
            InstrumentItem(
                practice=self.practice,
                version=version,
                key=f"q{n}",
                position=n,
                text=f"Question {n} of {self.name}",
            )
            for n in range(1, (extracted or 2) + 1)
        )
