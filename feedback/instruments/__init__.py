"""Instruments as data: the shipped definitions, and the checks every definition must pass.

A definition is a plain dict::

    {"key", "name", "kind": "alliance" | "outcome", "description", "licence_note",
     "enabled_by_default", "revision",
     "version": {
         "instructions", "scale_min", "scale_max",
         "anchors": [{"value", "label"}],                 # labels for points of the scale
         "scoring_rule": "sum" | "mean" | "index",        # index: the mean rescaled to 0–10
         "higher_is_better",
         "bands": [{"min", "max", "label", "severity"}],  # inclusive; severity 0–4 (below)
         "reliable_change_points",                        # a published threshold, or None
         "reliable_change_sd", "reliable_change_reliability",  # for Jacobson–Truax, or None
         "subscales": [{"key", "label"}],
         "items": [{"key", "text", "response_kind": "scale" | "yes_no" | "text", "required",
                    "scored", "reverse_keyed", "subscale", "is_core",
                    "flag": "" | "safety" | "rupture", "options": [{"value", "label"}]}],
     }}

Item keys default as in `ITEM_DEFAULTS`. Severity is one ordinal scale across instruments:
0 minimal, 1 mild, 2 moderate, 3 moderately severe, 4 severe.

The text of licensed instruments (SRS, ORS, WAI-SR and the like) must never be added here: a
practice that holds a licence enters such an instrument itself, as a custom instrument.
"""

import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from feedback import scoring
from feedback.instruments.gad7 import GAD7
from feedback.instruments.phq9 import PHQ9
from feedback.instruments.session_checkin import SESSION_CHECKIN

STANDARD_INSTRUMENTS = (SESSION_CHECKIN, PHQ9, GAD7)
STANDARD_KEYS = frozenset(d["key"] for d in STANDARD_INSTRUMENTS)

ITEM_DEFAULTS = {
    "response_kind": scoring.SCALE,
    "required": True,
    "scored": True,
    "reverse_keyed": False,
    "subscale": "",
    "is_core": False,
    "flag": "",
    "options": [],
}
VERSION_DEFAULTS = {
    "instructions": "",
    "anchors": [],
    "higher_is_better": True,
    "bands": [],
    "reliable_change_points": None,
    "reliable_change_sd": None,
    "reliable_change_reliability": None,
    "subscales": [],
}
MAX_ITEMS = 100
SEVERITIES = range(0, 5)
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def standard_definition(key: str) -> dict:
    return next(d for d in STANDARD_INSTRUMENTS if d["key"] == key)


def normalized_version(version: Mapping[str, Any]) -> dict:
    """The version part of a definition with every default filled in (items too)."""
    full = {**VERSION_DEFAULTS, **version}
    full["items"] = [{**ITEM_DEFAULTS, **item} for item in version.get("items", ())]
    return full


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_options(options, where: str, problems: list[str], lo=None, hi=None) -> None:
    seen = set()
    for option in options:
        value, label = option.get("value"), str(option.get("label", "")).strip()
        if not _is_int(value):
            problems.append(f"{where}: each answer needs a whole number.")
        elif value in seen:
            problems.append(f"{where}: the number {value} is used twice.")
        elif lo is not None and not lo <= value <= hi:
            problems.append(f"{where}: {value} is outside the scale ({lo} to {hi}).")
        if not label:
            problems.append(f"{where}: each answer needs a label.")
        elif len(label) > 200:
            problems.append(f"{where}: keep each label under 200 characters.")
        seen.add(value)


def validate_version_definition(version: Mapping[str, Any]) -> dict:
    """Check the version part of a definition; return it normalized, or raise ValidationError
    keyed by the part at fault (scale_max, items, bands, ...)."""
    v = normalized_version(version)
    errors: dict[str, list[str]] = {}

    def problem(part: str, message: str) -> None:
        errors.setdefault(part, []).append(message)

    if v.get("scoring_rule") not in scoring.SCORING_RULES:
        problem("scoring_rule", "Choose how the answers are scored.")
    lo, hi = v.get("scale_min"), v.get("scale_max")
    if not (_is_int(lo) and _is_int(hi)):
        problem("scale_max", "The scale needs a whole number at each end.")
        lo = hi = None
    elif lo >= hi:
        problem("scale_max", "The highest answer must be above the lowest.")
        lo = hi = None
    anchor_problems: list[str] = []
    _check_options(v["anchors"], "Scale labels", anchor_problems, lo, hi)
    for message in anchor_problems:
        problem("anchors", message)

    subscale_keys = set()
    for sub in v["subscales"]:
        key = sub.get("key", "")
        if not _KEY.match(str(key)) or key in subscale_keys or not sub.get("label"):
            problem("subscales", f"Subscale {key!r} needs a unique short key and a label.")
        subscale_keys.add(key)

    items = v["items"]
    if not items:
        problem("items", "Add at least one question.")
    if len(items) > MAX_ITEMS:
        problem("items", f"An instrument can have at most {MAX_ITEMS} questions.")
    keys = set()
    for number, item in enumerate(items, start=1):
        where = f"Question {number}"
        key, kind, text = item.get("key"), item["response_kind"], str(item.get("text", "")).strip()
        if not _KEY.match(str(key)):
            problem("items", f"{where}: the key must be short, lower-case letters, digits or -.")
        elif key in keys:
            problem("items", f"{where}: the key {key!r} is used twice.")
        keys.add(key)
        if not text:
            problem("items", f"{where} has no text.")
        elif len(text) > 1000:
            problem("items", f"{where}: keep the question under 1,000 characters.")
        if kind not in scoring.RESPONSE_KINDS:
            problem("items", f"{where}: unknown kind of answer {kind!r}.")
        if kind != scoring.SCALE and (item["reverse_keyed"] or item["is_core"] or item["options"]):
            problem("items", f"{where}: only questions answered on a scale can be reverse-scored, "
                             "core or have their own answers.")
        if item["flag"] not in ("",) + scoring.FLAGS:
            problem("items", f"{where}: unknown flag {item['flag']!r}.")
        elif item["flag"] == scoring.SAFETY and kind != scoring.SCALE:
            problem("items", f"{where}: a safety question must be answered on a scale.")
        elif item["flag"] == scoring.RUPTURE and kind != scoring.YES_NO:
            problem("items", f"{where}: a rupture question must be a yes/no question.")
        if item["subscale"] and item["subscale"] not in subscale_keys:
            problem("items", f"{where}: unknown subscale {item['subscale']!r}.")
        option_problems: list[str] = []
        _check_options(item["options"], where, option_problems)
        if item["options"] and len(item["options"]) < 2:
            option_problems.append(f"{where}: give at least two answers to choose from.")
        for message in option_problems:
            problem("items", message)
    if items and not any(i["scored"] and i["response_kind"] == scoring.SCALE for i in items):
        problem("items", "At least one question must be answered on the scale and scored.")

    previous_max = None
    for band in v["bands"]:
        b_lo, b_hi, label = band.get("min"), band.get("max"), str(band.get("label", "")).strip()
        name = f"The range {b_lo}–{b_hi}"
        if not (_is_number(b_lo) and _is_number(b_hi)) or b_lo > b_hi:
            problem("bands", f"{name}: the first number must not be above the second.")
            continue
        if not label:
            problem("bands", f"{name} needs a label.")
        if previous_max is not None and b_lo <= previous_max:
            problem("bands", f"{name} overlaps the range before it: list ranges lowest first.")
        if band.get("severity") is not None and band["severity"] not in SEVERITIES:
            problem("bands", f"{name}: severity must be 0 to 4.")
        previous_max = b_hi

    points = v["reliable_change_points"]
    if points is not None and (not _is_number(points) or points <= 0):
        problem("reliable_change_points", "The reliable change must be a number above 0.")
    sd, r = v["reliable_change_sd"], v["reliable_change_reliability"]
    if (sd is None) != (r is None):
        problem("reliable_change_sd", "Give both the standard deviation and the reliability, "
                                      "or neither.")
    elif sd is not None:
        if not _is_number(sd) or sd <= 0:
            problem("reliable_change_sd", "The standard deviation must be above 0.")
        if not _is_number(r) or not 0 <= r < 1:
            problem("reliable_change_reliability", "The reliability must be from 0 to below 1.")
    if errors:
        raise ValidationError(errors)
    return v
