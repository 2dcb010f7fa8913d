"""Scoring of instruments: pure functions over item definitions and answers (no database).

An instrument version is described by an `InstrumentSpec` (built from a shipped definition dict
or from the rows of an InstrumentVersion). `clean_answers` checks the answers a person gave
against it and raises one ValidationError with a message per item; `score` turns clean answers
into totals, means, a 0–10 index, subscale scores, a band and the item flags.

Reliable change follows Jacobson & Truax (1991): RC = (x2 − x1) / √(2·SE²), SE = s·√(1 − r);
|RC| ≥ 1.96 is a reliable change. Instruments may instead carry a published threshold in points
(PHQ-9: 6, GAD-7: 4).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from django.core.exceptions import ValidationError

# Response kinds of an item.
SCALE = "scale"
YES_NO = "yes_no"
TEXT = "text"
RESPONSE_KINDS = (SCALE, YES_NO, TEXT)

# Scoring rules of a version.
SUM = "sum"  # add up the scored items
MEAN = "mean"  # average of the answered scored items
INDEX = "index"  # that average, rescaled from the response scale to 0–10
SCORING_RULES = (SUM, MEAN, INDEX)

# Item flags: what an answer to the item signals, whatever the score.
SAFETY = "safety"  # a scale item: any answer above the lowest sets `safety_item_positive`
RUPTURE = "rupture"  # a yes/no item: "yes" sets `rupture_reported`
FLAGS = (SAFETY, RUPTURE)

TEXT_MAX_LENGTH = 4000
JACOBSON_TRUAX_CRITICAL = 1.96

_INTEGER = re.compile(r"^[+-]?\d+$")
_YES = {"yes", "y", "true", "1", "on"}
_NO = {"no", "n", "false", "0", "off"}


@dataclass(frozen=True)
class Option:
    value: int
    label: str


@dataclass(frozen=True)
class Band:
    """A score range (both ends included) with its label and an ordinal severity (0 = lowest)."""

    min: float
    max: float
    label: str
    severity: int | None = None

    def contains(self, score: float) -> bool:
        return self.min <= score <= self.max


@dataclass(frozen=True)
class Subscale:
    key: str
    label: str


@dataclass(frozen=True)
class ItemSpec:
    key: str
    text: str = ""
    response_kind: str = SCALE
    required: bool = True
    scored: bool = True  # counts towards the total, mean and index (scale items only)
    reverse_keyed: bool = False
    subscale: str = ""
    is_core: bool = False  # an alliance core item (rupture rules look at these)
    flag: str = ""
    options: tuple[Option, ...] = ()  # this item's own answers; else the version's scale

    @property
    def counts(self) -> bool:
        return self.scored and self.response_kind == SCALE


@dataclass(frozen=True)
class InstrumentSpec:
    scale_min: int
    scale_max: int
    scoring_rule: str
    items: tuple[ItemSpec, ...]
    bands: tuple[Band, ...] = ()
    subscales: tuple[Subscale, ...] = ()
    anchors: tuple[Option, ...] = ()

    @classmethod
    def from_definition(cls, version: Mapping[str, Any]) -> InstrumentSpec:
        """From the `version` part of an instrument definition (see feedback.instruments)."""
        return cls(
            scale_min=version["scale_min"],
            scale_max=version["scale_max"],
            scoring_rule=version["scoring_rule"],
            items=tuple(
                ItemSpec(
                    key=item["key"],
                    text=item.get("text", ""),
                    response_kind=item.get("response_kind", SCALE),
                    required=item.get("required", True),
                    scored=item.get("scored", True),
                    reverse_keyed=item.get("reverse_keyed", False),
                    subscale=item.get("subscale", ""),
                    is_core=item.get("is_core", False),
                    flag=item.get("flag", ""),
                    options=_options(item.get("options", ())),
                )
                for item in version["items"]
            ),
            bands=tuple(
                Band(b["min"], b["max"], b["label"], b.get("severity"))
                for b in version.get("bands", ())
            ),
            subscales=tuple(Subscale(s["key"], s["label"]) for s in version.get("subscales", ())),
            anchors=_options(version.get("anchors", ())),
        )

    def item(self, key: str) -> ItemSpec | None:
        return next((i for i in self.items if i.key == key), None)

    def values_of(self, item: ItemSpec) -> tuple[int, ...]:
        """The answers a scale item accepts, lowest first."""
        if item.options:
            return tuple(sorted(o.value for o in item.options))
        return tuple(range(self.scale_min, self.scale_max + 1))

    def range_of(self, item: ItemSpec) -> tuple[int, int]:
        values = self.values_of(item)
        return values[0], values[-1]


def _options(raw: Iterable[Mapping[str, Any]]) -> tuple[Option, ...]:
    return tuple(Option(int(o["value"]), o["label"]) for o in raw)


# --- Answers --------------------------------------------------------------------------------


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _scale_value(value: Any) -> int | None:
    """An integer answer from a form or an API; None when it is not a whole number."""
    if isinstance(value, bool):  # True is an int in Python, but not an answer on a scale
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.match(value.strip()):
        return int(value.strip())
    return None


def _yes_no_value(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _YES:
            return 1
        if word in _NO:
            return 0
    return None


def clean_answers(spec: InstrumentSpec, answers: Mapping[str, Any]) -> dict[str, int | str]:
    """The answers, checked and converted: {item key: int (scale, yes/no as 1/0) or str (text)}.

    Unanswered optional items are left out. Every problem is reported at once, keyed by the
    item's key, in one ValidationError; nothing is returned then.
    """
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, int | str] = {}
    known = {item.key for item in spec.items}
    for key in answers:
        if key not in known:
            errors[str(key)] = ["This question is not part of this questionnaire."]
    for item in spec.items:
        raw = answers.get(item.key)
        if _is_blank(raw):
            if item.required:
                errors[item.key] = ["Please answer this question."]
            continue
        if item.response_kind == SCALE:
            value = _scale_value(raw)
            lo, hi = spec.range_of(item)
            if value is None:
                errors[item.key] = [f"Choose one of the answers: a whole number from {lo} to {hi}."]
            elif value not in spec.values_of(item):
                errors[item.key] = [f"Choose a number from {lo} to {hi}."]
            else:
                cleaned[item.key] = value
        elif item.response_kind == YES_NO:
            value = _yes_no_value(raw)
            if value is None:
                errors[item.key] = ["Answer yes or no."]
            else:
                cleaned[item.key] = value
        else:
            if not isinstance(raw, str):
                errors[item.key] = ["This answer must be text."]
                continue
            text = raw.replace("\x00", "").strip()
            if len(text) > TEXT_MAX_LENGTH:
                errors[item.key] = [
                    f"Please keep this under {TEXT_MAX_LENGTH:,} characters "
                    f"(it has {len(text):,})."
                ]
            elif text:
                cleaned[item.key] = text
            elif item.required:
                errors[item.key] = ["Please answer this question."]
    if errors:
        raise ValidationError(errors)
    return cleaned


# --- Scores ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    total: float | None  # sum of the scored items, reverse keying applied
    mean: float | None  # mean of the answered scored items
    index: float | None  # 0–10, for the INDEX rule only
    band: Band | None
    subscales: dict[str, float] = field(default_factory=dict)
    safety_item_positive: bool = False
    rupture_reported: bool = False
    scored_items: int = 0

    def primary(self, rule: str) -> float | None:
        return {SUM: self.total, MEAN: self.mean, INDEX: self.index}[rule]


def reverse(value: int, lo: int, hi: int) -> int:
    """A reverse-keyed answer on a lo..hi scale: hi + lo − value."""
    return hi + lo - value


def scored_value(spec: InstrumentSpec, item: ItemSpec, value: int) -> int:
    if item.reverse_keyed:
        return reverse(value, *spec.range_of(item))
    return value


def _combine(rule: str, values: list[int], lo: int, hi: int) -> float | None:
    """Sum, mean or 0–10 index of item values, computed exactly and rounded once."""
    if not values:
        return None
    total = sum(values)
    if rule == SUM:
        return float(total)
    mean = Fraction(total, len(values))
    if rule == MEAN:
        return float(mean)
    return float((mean - lo) * 10 / (hi - lo))


def band_for(score: float | None, bands: Iterable[Band]) -> Band | None:
    if score is None:
        return None
    return next((band for band in bands if band.contains(score)), None)


def score(spec: InstrumentSpec, cleaned: Mapping[str, int | str]) -> Score:
    """Score clean answers (from clean_answers) with the version's rule."""
    counted = [item for item in spec.items if item.counts and item.key in cleaned]
    values = {item.key: scored_value(spec, item, int(cleaned[item.key])) for item in counted}
    rule, lo, hi = spec.scoring_rule, spec.scale_min, spec.scale_max
    total = float(sum(values.values())) if values else None
    mean = _combine(MEAN, list(values.values()), lo, hi)
    index = _combine(INDEX, list(values.values()), lo, hi) if rule == INDEX else None
    subscales = {}
    for sub in spec.subscales:
        sub_values = [values[i.key] for i in counted if i.subscale == sub.key]
        if (result := _combine(rule, sub_values, lo, hi)) is not None:
            subscales[sub.key] = result
    primary = {SUM: total, MEAN: mean, INDEX: index}[rule]
    safety = any(
        item.flag == SAFETY
        and item.response_kind == SCALE
        and item.key in cleaned
        and int(cleaned[item.key]) > spec.range_of(item)[0]
        for item in spec.items
    )
    rupture = any(
        item.flag == RUPTURE and item.response_kind == YES_NO and cleaned.get(item.key) == 1
        for item in spec.items
    )
    return Score(
        total=total,
        mean=mean,
        index=index,
        band=band_for(primary, spec.bands),
        subscales=subscales,
        safety_item_positive=safety,
        rupture_reported=rupture,
        scored_items=len(values),
    )


# --- Reliable change --------------------------------------------------------------------------

IMPROVED = "improved"
DETERIORATED = "deteriorated"
NO_RELIABLE_CHANGE = "no_reliable_change"


@dataclass(frozen=True)
class Change:
    difference: float  # x2 − x1
    reliable: bool
    rc: float | None = None  # the Jacobson–Truax index, when computed that way

    def direction(self, *, higher_is_better: bool) -> str:
        if not self.reliable or self.difference == 0:
            return NO_RELIABLE_CHANGE
        return IMPROVED if (self.difference > 0) == higher_is_better else DETERIORATED


def reliable_change(x1: float, x2: float, threshold: float) -> Change:
    """A change of at least `threshold` points (an instrument's published value) is reliable."""
    if threshold <= 0:
        raise ValueError("The reliable-change threshold must be above 0.")
    difference = x2 - x1
    return Change(difference=difference, reliable=abs(difference) >= threshold)


def standard_error(sd: float, reliability: float) -> float:
    """SE of measurement: s·√(1 − r)."""
    if sd <= 0:
        raise ValueError("The standard deviation must be above 0.")
    if not 0 <= reliability < 1:
        raise ValueError("The reliability must be at least 0 and below 1.")
    return sd * math.sqrt(1 - reliability)


def jacobson_truax_rc(x1: float, x2: float, sd: float, reliability: float) -> float:
    """RC = (x2 − x1) / √(2·SE²)."""
    se = standard_error(sd, reliability)
    return (x2 - x1) / math.sqrt(2 * se**2)


def version_change(version, x1: float, x2: float) -> Change | None:
    """The change from x1 to x2 judged by an instrument version's own reliable-change rule
    (published points, else Jacobson–Truax from its SD and reliability); None without one."""
    if version.reliable_change_points:
        return reliable_change(x1, x2, version.reliable_change_points)
    if version.reliable_change_sd and version.reliable_change_reliability is not None:
        return jacobson_truax(x1, x2, version.reliable_change_sd, version.reliable_change_reliability)
    return None


def jacobson_truax(x1: float, x2: float, sd: float, reliability: float) -> Change:
    rc = jacobson_truax_rc(x1, x2, sd, reliability)
    return Change(difference=x2 - x1, reliable=abs(rc) >= JACOBSON_TRUAX_CRITICAL, rc=rc)
