"""GAD-7 (Generalized Anxiety Disorder 7-item scale), with the exact published wording.

Spitzer, Kroenke, Williams & Löwe (2006), Arch Intern Med 166:1092–1097. Public domain:
developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, with an
educational grant from Pfizer Inc.; no permission required to reproduce, translate, display or
distribute.
"""

from feedback.instruments.phq9 import DIFFICULTY, FREQUENCY, LICENCE_NOTE

GAD7 = {
    "key": "gad7",
    "name": "GAD-7",
    "kind": "outcome",
    "enabled_by_default": False,
    "description": (
        "Generalized Anxiety Disorder scale: seven questions about symptoms of anxiety over the "
        "last two weeks, scored 0–21."
    ),
    "licence_note": LICENCE_NOTE,
    "revision": 1,
    "version": {
        "instructions": (
            "Over the last 2 weeks, how often have you been bothered by the following problems?"
        ),
        "scale_min": 0,
        "scale_max": 3,
        "anchors": FREQUENCY,
        "scoring_rule": "sum",
        "higher_is_better": False,
        "bands": [
            {"min": 0, "max": 4, "label": "Minimal", "severity": 0},
            {"min": 5, "max": 9, "label": "Mild", "severity": 1},
            {"min": 10, "max": 14, "label": "Moderate", "severity": 2},
            {"min": 15, "max": 21, "label": "Severe", "severity": 4},
        ],
        "reliable_change_points": 4,
        "reliable_change_sd": None,
        "reliable_change_reliability": None,
        "subscales": [],
        "items": [
            {"key": "gad7-1", "text": "Feeling nervous, anxious or on edge"},
            {"key": "gad7-2", "text": "Not being able to stop or control worrying"},
            {"key": "gad7-3", "text": "Worrying too much about different things"},
            {"key": "gad7-4", "text": "Trouble relaxing"},
            {"key": "gad7-5", "text": "Being so restless that it is hard to sit still"},
            {"key": "gad7-6", "text": "Becoming easily annoyed or irritable"},
            {"key": "gad7-7", "text": "Feeling afraid as if something awful might happen"},
            {"key": "difficulty", "required": False, "scored": False, "options": DIFFICULTY,
             "text": (
                 "If you checked off any problems, how difficult have these made it for you to "
                 "do your work, take care of things at home, or get along with other people?"
             )},
        ],
    },
}
