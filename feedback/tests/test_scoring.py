"""Scoring as pure functions, against the shipped definitions (no database)."""

import math

import pytest
from django.core.exceptions import ValidationError

from feedback import scoring
from feedback.instruments import (
    STANDARD_INSTRUMENTS,
    standard_definition,
    validate_version_definition,
)
from feedback.scoring import InstrumentSpec

PHQ9 = InstrumentSpec.from_definition(standard_definition("phq9")["version"])
GAD7 = InstrumentSpec.from_definition(standard_definition("gad7")["version"])
CHECKIN = InstrumentSpec.from_definition(standard_definition("session-checkin")["version"])


def answers_totalling(total: int, keys: list[str], *, last: int | None = None) -> dict[str, int]:
    """0–3 answers over `keys` adding up to `total` (filled in order), the last key's answer
    fixed to `last` if given."""
    answers, fill, remaining = {}, keys, total
    if last is not None:
        *fill, final = keys
        answers[final] = last
        remaining -= last
    for key in fill:
        answers[key] = min(3, remaining)
        remaining -= answers[key]
    assert remaining == 0, "total out of reach"
    assert sum(answers.values()) == total
    return answers


PHQ9_KEYS = [f"phq9-{n}" for n in range(1, 10)]
GAD7_KEYS = [f"gad7-{n}" for n in range(1, 8)]


def score(spec, answers):
    return scoring.score(spec, scoring.clean_answers(spec, answers))


# --- PHQ-9 and GAD-7 bands at every boundary -------------------------------------------------


@pytest.mark.parametrize(
    "total, label, severity",
    [
        (0, "Minimal", 0),
        (4, "Minimal", 0),
        (5, "Mild", 1),
        (9, "Mild", 1),
        (10, "Moderate", 2),
        (14, "Moderate", 2),
        (15, "Moderately severe", 3),
        (19, "Moderately severe", 3),
        (20, "Severe", 4),
        (27, "Severe", 4),
    ],
)
def test_phq9_total_and_band(total, label, severity):
    result = score(PHQ9, answers_totalling(total, PHQ9_KEYS))
    assert result.total == total
    assert result.primary(scoring.SUM) == total
    assert (result.band.label, result.band.severity) == (label, severity)
    assert result.index is None


@pytest.mark.parametrize(
    "total, label",
    [(0, "Minimal"), (4, "Minimal"), (5, "Mild"), (9, "Mild"), (10, "Moderate"),
     (14, "Moderate"), (15, "Severe"), (21, "Severe")],
)
def test_gad7_total_and_band(total, label):
    result = score(GAD7, answers_totalling(total, GAD7_KEYS))
    assert result.total == total
    assert result.band.label == label


def test_published_band_tables():
    phq = [(b.min, b.max, b.label) for b in PHQ9.bands]
    assert phq == [(0, 4, "Minimal"), (5, 9, "Mild"), (10, 14, "Moderate"),
                   (15, 19, "Moderately severe"), (20, 27, "Severe")]
    gad = [(b.min, b.max, b.label) for b in GAD7.bands]
    assert gad == [(0, 4, "Minimal"), (5, 9, "Mild"), (10, 14, "Moderate"), (15, 21, "Severe")]
    assert standard_definition("phq9")["version"]["reliable_change_points"] == 6
    assert standard_definition("gad7")["version"]["reliable_change_points"] == 4


def test_the_difficulty_question_is_optional_and_unscored():
    answers = answers_totalling(7, PHQ9_KEYS)
    without = score(PHQ9, answers)
    with_difficulty = score(PHQ9, {**answers, "difficulty": 3})
    assert without.total == with_difficulty.total == 7
    assert without.scored_items == with_difficulty.scored_items == 9
    # Its own answers, not the frequency scale:
    difficulty = PHQ9.item("difficulty")
    assert [o.label for o in difficulty.options] == [
        "Not difficult at all", "Somewhat difficult", "Very difficult", "Extremely difficult"
    ]


# --- Item 9 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("item9, flagged", [(0, False), (1, True), (2, True), (3, True)])
def test_phq9_item9_sets_the_safety_flag_above_zero(item9, flagged):
    result = score(PHQ9, answers_totalling(item9 + 6, PHQ9_KEYS, last=item9))
    assert result.safety_item_positive is flagged
    assert result.total == item9 + 6


def test_a_high_total_without_item9_is_not_flagged():
    result = score(PHQ9, answers_totalling(24, PHQ9_KEYS, last=0))
    assert result.total == 24 and result.safety_item_positive is False


def test_only_phq9_item9_is_the_safety_item():
    assert [i.key for i in PHQ9.items if i.flag == scoring.SAFETY] == ["phq9-9"]
    assert [i.key for i in GAD7.items if i.flag] == []


# --- The session check-in -------------------------------------------------------------------

CORE = ["heard", "my-goals", "approach", "pace", "cared", "challenged", "say", "overall"]


def test_checkin_index_is_the_mean_of_the_eight_ratings():
    values = [10, 9, 8, 7, 10, 6, 9, 8]  # 67 / 8 = 8.375
    result = score(CHECKIN, dict(zip(CORE, values, strict=True)))
    assert result.index == 8.375
    assert result.mean == 8.375
    assert result.total == 67
    assert result.band is None  # rupture thresholds are the practice's, not bands


def test_checkin_index_all_tens_and_all_zeros():
    assert score(CHECKIN, dict.fromkeys(CORE, 10)).index == 10.0
    assert score(CHECKIN, dict.fromkeys(CORE, 0)).index == 0.0


def test_checkin_subscales_are_means_of_their_items():
    values = dict(zip(CORE, [10, 9, 8, 7, 4, 6, 5, 8], strict=True))
    result = score(CHECKIN, values)
    assert result.subscales == {
        "bond": 7.0,  # heard 10, cared 4
        "goals": 7.0,  # my-goals 9, say 5
        "tasks": 7.0,  # approach 8, pace 7, challenged 6
    }
    assert result.index == 57 / 8


def test_checkin_optional_questions_do_not_change_the_index():
    ratings = dict.fromkeys(CORE, 9)
    plain = score(CHECKIN, ratings)
    full = score(CHECKIN, {**ratings, "rupture": "yes", "rupture-detail": "When we rushed.",
                           "do-differently": "Slow down a bit."})
    assert plain.index == full.index == 9.0
    assert plain.rupture_reported is False
    assert full.rupture_reported is True
    assert score(CHECKIN, {**ratings, "rupture": "no"}).rupture_reported is False


def test_checkin_wording_and_anchors():
    assert [i.key for i in CHECKIN.items if i.is_core] == CORE
    assert all(CHECKIN.item(k).required for k in CORE)
    rupture = CHECKIN.item("rupture")
    assert rupture.text == "Was there a moment today that didn't feel right between us?"
    assert rupture.response_kind == scoring.YES_NO and not rupture.required
    assert CHECKIN.item("do-differently").text == "What could your clinician do differently?"
    assert CHECKIN.item("do-differently").response_kind == scoring.TEXT
    assert (CHECKIN.scale_min, CHECKIN.scale_max) == (0, 10)
    assert {a.value: a.label for a in CHECKIN.anchors} == {0: "Not at all", 10: "Completely"}


# --- Reverse keying, means and indexes on other scales ----------------------------------------


def custom(rule="sum", lo=1, hi=5, **extra):
    return InstrumentSpec.from_definition({
        "scale_min": lo,
        "scale_max": hi,
        "scoring_rule": rule,
        "items": [
            {"key": "a", "subscale": "s1"},
            {"key": "b", "reverse_keyed": True, "subscale": "s1"},
            {"key": "c", "subscale": "s2"},
        ],
        "subscales": [{"key": "s1", "label": "One"}, {"key": "s2", "label": "Two"}],
        **extra,
    })


def test_reverse_keying_is_max_plus_min_minus_value():
    assert scoring.reverse(1, 1, 5) == 5
    assert scoring.reverse(2, 1, 5) == 4
    assert scoring.reverse(3, 1, 5) == 3
    assert scoring.reverse(0, 0, 3) == 3
    result = score(custom(), {"a": 4, "b": 2, "c": 1})  # b scores 1 + 5 - 2 = 4
    assert result.total == 4 + 4 + 1
    assert result.subscales == {"s1": 8.0, "s2": 1.0}


def test_mean_and_index_on_a_one_to_five_scale():
    answers = {"a": 5, "b": 1, "c": 3}  # b reversed to 5: values 5, 5, 3
    assert score(custom("mean"), answers).mean == pytest.approx(13 / 3)
    # index: (mean - 1) / (5 - 1) * 10 = (13/3 - 1) / 4 * 10 = 8.333...
    assert score(custom("index"), answers).index == pytest.approx(25 / 3)
    assert score(custom("index"), {"a": 1, "b": 5, "c": 1}).index == 0.0


def test_mean_rule_uses_the_bands_on_the_mean():
    spec = custom("mean", bands=[{"min": 1, "max": 2.5, "label": "Low"},
                                 {"min": 2.6, "max": 5, "label": "High"}])
    assert score(spec, {"a": 1, "b": 5, "c": 2}).band.label == "Low"  # mean 4/3
    assert score(spec, {"a": 5, "b": 1, "c": 5}).band.label == "High"  # mean 5


# --- Reliable change ---------------------------------------------------------------------------


def test_reliable_change_by_threshold():
    phq_threshold = 6
    assert scoring.reliable_change(15, 9, phq_threshold).reliable is True  # -6
    assert scoring.reliable_change(15, 10, phq_threshold).reliable is False  # -5
    assert scoring.reliable_change(8, 14, phq_threshold).reliable is True  # +6
    change = scoring.reliable_change(15, 9, phq_threshold)
    assert change.difference == -6
    assert change.direction(higher_is_better=False) == scoring.IMPROVED
    assert scoring.reliable_change(8, 14, 6).direction(higher_is_better=False) == (
        scoring.DETERIORATED
    )
    assert scoring.reliable_change(10, 13, 4).direction(higher_is_better=False) == (
        scoring.NO_RELIABLE_CHANGE
    )
    with pytest.raises(ValueError):
        scoring.reliable_change(1, 2, 0)


def test_jacobson_truax_hand_computed():
    # s = 5, r = 0.84: SE = 5 * sqrt(0.16) = 2.0; S_diff = sqrt(2 * 2.0^2) = sqrt(8) = 2.8284...
    assert scoring.standard_error(5, 0.84) == pytest.approx(2.0)
    rc = scoring.jacobson_truax_rc(15, 9, sd=5, reliability=0.84)
    assert rc == pytest.approx(-6 / math.sqrt(8))  # -2.1213
    assert rc == pytest.approx(-2.1213, abs=1e-4)
    assert scoring.jacobson_truax(15, 9, 5, 0.84).reliable is True
    # -5 / 2.8284 = -1.7678: below 1.96, not reliable.
    small = scoring.jacobson_truax(15, 10, 5, 0.84)
    assert small.rc == pytest.approx(-1.7678, abs=1e-4)
    assert small.reliable is False
    # Alliance: up by 3 on sd 1.5, r .9: SE = 0.4743, S_diff = 0.6708, RC = 4.47.
    up = scoring.jacobson_truax(6, 9, 1.5, 0.9)
    assert up.rc == pytest.approx(3 / math.sqrt(2 * (1.5**2) * 0.1), abs=1e-9)
    assert up.direction(higher_is_better=True) == scoring.IMPROVED
    with pytest.raises(ValueError):
        scoring.standard_error(5, 1.0)
    with pytest.raises(ValueError):
        scoring.standard_error(0, 0.8)


# --- Validation --------------------------------------------------------------------------------


def errors_of(spec, answers) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        scoring.clean_answers(spec, answers)
    return caught.value.message_dict


@pytest.mark.parametrize("bad", [-1, 4, "4", 11])
def test_phq9_answers_outside_0_to_3(bad):
    answers = {**answers_totalling(5, PHQ9_KEYS), "phq9-3": bad}
    assert errors_of(PHQ9, answers) == {"phq9-3": ["Choose a number from 0 to 3."]}


@pytest.mark.parametrize("bad", [-1, 11])
def test_checkin_answers_outside_0_to_10(bad):
    answers = {**dict.fromkeys(CORE, 8), "pace": bad}
    assert errors_of(CHECKIN, answers) == {"pace": ["Choose a number from 0 to 10."]}


def test_missing_required_unknown_and_wrong_type_are_all_reported():
    answers = dict.fromkeys(CORE, 8)
    del answers["cared"]
    answers["heard"] = "very"  # text in a scale item
    answers["approach"] = True  # a boolean is not a number on the scale
    answers["pace"] = 7.5  # nor is a fraction
    answers["bogus"] = 3
    answers["rupture"] = "maybe"
    answers["do-differently"] = 42
    errors = errors_of(CHECKIN, answers)
    assert errors == {
        "cared": ["Please answer this question."],
        "heard": ["Choose one of the answers: a whole number from 0 to 10."],
        "approach": ["Choose one of the answers: a whole number from 0 to 10."],
        "pace": ["Choose one of the answers: a whole number from 0 to 10."],
        "bogus": ["This question is not part of this questionnaire."],
        "rupture": ["Answer yes or no."],
        "do-differently": ["This answer must be text."],
    }


def test_blank_answers_count_as_missing():
    answers = {**dict.fromkeys(CORE, 8), "overall": "  "}
    assert errors_of(CHECKIN, answers) == {"overall": ["Please answer this question."]}


def test_form_strings_are_accepted_and_converted():
    answers = {k: "7" for k in CORE} | {"rupture": "yes", "rupture-detail": "  tense  "}
    cleaned = scoring.clean_answers(CHECKIN, answers)
    assert cleaned["heard"] == 7 and cleaned["rupture"] == 1
    assert cleaned["rupture-detail"] == "tense"
    assert "do-differently" not in cleaned


def test_overlong_text_is_refused():
    answers = {**dict.fromkeys(CORE, 8), "do-differently": "x" * (scoring.TEXT_MAX_LENGTH + 1)}
    (message,) = errors_of(CHECKIN, answers)["do-differently"]
    assert message.startswith("Please keep this under 4,000 characters")


def test_difficulty_accepts_only_its_own_answers():
    answers = {**answers_totalling(3, PHQ9_KEYS), "difficulty": 4}
    assert errors_of(PHQ9, answers) == {"difficulty": ["Choose a number from 0 to 3."]}


# --- The shipped definitions ------------------------------------------------------------------


@pytest.mark.parametrize("definition", STANDARD_INSTRUMENTS, ids=lambda d: d["key"])
def test_shipped_definitions_are_valid(definition):
    validate_version_definition(definition["version"])
    assert definition["licence_note"]
    assert definition["kind"] in ("alliance", "outcome")


def test_published_phq9_wording():
    assert PHQ9.item("phq9-9").text == (
        "Thoughts that you would be better off dead or of hurting yourself in some way"
    )
    assert PHQ9.item("phq9-1").text == "Little interest or pleasure in doing things"
    assert standard_definition("phq9")["version"]["instructions"] == (
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    )
    assert [a.label for a in PHQ9.anchors] == [
        "Not at all", "Several days", "More than half the days", "Nearly every day"
    ]
    assert [a.value for a in PHQ9.anchors] == [0, 1, 2, 3]
    assert len([i for i in PHQ9.items if i.counts]) == 9


def test_published_gad7_wording():
    assert GAD7.item("gad7-1").text == "Feeling nervous, anxious or on edge"
    assert GAD7.item("gad7-7").text == "Feeling afraid as if something awful might happen"
    assert [a.label for a in GAD7.anchors] == [
        "Not at all", "Several days", "More than half the days", "Nearly every day"
    ]
    assert len([i for i in GAD7.items if i.counts]) == 7


def test_licence_notes_name_the_authors():
    for key in ("phq9", "gad7"):
        note = standard_definition(key)["licence_note"]
        assert "Spitzer" in note and "Williams" in note and "Kroenke" in note
        assert "No permission required to reproduce" in note


def test_no_licensed_instrument_is_shipped():
    keys = {d["key"] for d in STANDARD_INSTRUMENTS}
    assert keys == {"session-checkin", "phq9", "gad7"}
    text = repr(STANDARD_INSTRUMENTS).lower()
    # Fragments of the licensed SRS/ORS/WAI-SR must never appear in the shipped data.
    for fragment in ("session rating scale", "outcome rating scale", "working alliance inventory",
                     "wai-sr", "i felt heard, understood, and respected"):
        assert fragment not in text


@pytest.mark.parametrize(
    "change, part",
    [
        ({"scale_min": 3, "scale_max": 3}, "scale_max"),
        ({"scoring_rule": "median"}, "scoring_rule"),
        ({"items": []}, "items"),
        ({"bands": [{"min": 0, "max": 5, "label": "A"}, {"min": 5, "max": 9, "label": "B"}]},
         "bands"),
        ({"bands": [{"min": 6, "max": 2, "label": "A"}]}, "bands"),
        ({"reliable_change_points": -1}, "reliable_change_points"),
        ({"reliable_change_sd": 5, "reliable_change_reliability": None}, "reliable_change_sd"),
        ({"anchors": [{"value": 9, "label": "Way off"}]}, "anchors"),
        ({"items": [{"key": "a", "text": "A"}, {"key": "a", "text": "B"}]}, "items"),
        ({"items": [{"key": "a", "text": "A", "response_kind": "text"}]}, "items"),
    ],
)
def test_bad_definitions_are_refused(change, part):
    version = {**standard_definition("gad7")["version"], **change}
    with pytest.raises(ValidationError) as caught:
        validate_version_definition(version)
    assert part in caught.value.message_dict
