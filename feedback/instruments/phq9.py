"""PHQ-9 (Patient Health Questionnaire), with the exact published wording.

Kroenke, Spitzer & Williams (2001), J Gen Intern Med 16:606–613. Public domain: developed by
Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, with an educational
grant from Pfizer Inc.; no permission required to reproduce, translate, display or distribute.
"""

FREQUENCY = [
    {"value": 0, "label": "Not at all"},
    {"value": 1, "label": "Several days"},
    {"value": 2, "label": "More than half the days"},
    {"value": 3, "label": "Nearly every day"},
]

DIFFICULTY = [
    {"value": 0, "label": "Not difficult at all"},
    {"value": 1, "label": "Somewhat difficult"},
    {"value": 2, "label": "Very difficult"},
    {"value": 3, "label": "Extremely difficult"},
]

LICENCE_NOTE = (
    "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, with "
    "an educational grant from Pfizer Inc. No permission required to reproduce, translate, "
    "display or distribute."
)

PHQ9 = {
    "key": "phq9",
    "name": "PHQ-9",
    "kind": "outcome",
    "enabled_by_default": False,
    "description": (
        "Patient Health Questionnaire: nine questions about symptoms of depression over the "
        "last two weeks, scored 0–27. Question 9 asks about thoughts of death or self-harm: any "
        "answer above 0 alerts the clinician, who must acknowledge it the same day. A 0 does "
        "not rule out risk."
    ),
    "licence_note": LICENCE_NOTE,
    "revision": 1,
    "version": {
        "instructions": (
            "Over the last 2 weeks, how often have you been bothered by any of the following "
            "problems?"
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
            {"min": 15, "max": 19, "label": "Moderately severe", "severity": 3},
            {"min": 20, "max": 27, "label": "Severe", "severity": 4},
        ],
        "reliable_change_points": 6,
        "reliable_change_sd": None,
        "reliable_change_reliability": None,
        "subscales": [],
        "items": [
            {"key": "phq9-1", "text": "Little interest or pleasure in doing things"},
            {"key": "phq9-2", "text": "Feeling down, depressed, or hopeless"},
            {"key": "phq9-3", "text": "Trouble falling or staying asleep, or sleeping too much"},
            {"key": "phq9-4", "text": "Feeling tired or having little energy"},
            {"key": "phq9-5", "text": "Poor appetite or overeating"},
            {"key": "phq9-6", "text": (
                "Feeling bad about yourself \u2014 or that you are a failure or have let "
                "yourself or your family down"
            )},
            {"key": "phq9-7", "text": (
                "Trouble concentrating on things, such as reading the newspaper or watching "
                "television"
            )},
            {"key": "phq9-8", "text": (
                "Moving or speaking so slowly that other people could have noticed? Or the "
                "opposite \u2014 being so fidgety or restless that you have been moving around a "
                "lot more than usual"
            )},
            {"key": "phq9-9", "flag": "safety", "text": (
                "Thoughts that you would be better off dead or of hurting yourself in some way"
            )},
            {"key": "difficulty", "required": False, "scored": False, "options": DIFFICULTY,
             "text": (
                 "If you checked off any problems, how difficult have these problems made it for "
                 "you to do your work, take care of things at home, or get along with other "
                 "people?"
             )},
        ],
    },
}
