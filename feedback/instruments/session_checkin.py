"""Rapport's session check-in: Rapport's own wording (DESIGN.md, "Instruments and scoring").

Eight 0–10 statements about the session just held, averaged into a 0–10 alliance index, then
an optional yes/no rupture question with room to say more, and an optional suggestion.
The subscales follow Bordin's working alliance: agreement on goals and tasks, and the bond.
"""

SESSION_CHECKIN = {
    "key": "session-checkin",
    "name": "Session check-in",
    "kind": "alliance",
    "enabled_by_default": True,
    "description": (
        "Rapport's short check-in after each session: how the work together felt for the "
        "client. Eight questions answered from 0 to 10 make a 0–10 alliance index (their "
        "average). Two optional questions invite the client to name a moment that didn't feel "
        "right and to suggest what you could do differently."
    ),
    "licence_note": (
        "Written for Rapport and free to use with it (AGPL-3.0-or-later). It is not a validated "
        "psychometric scale: use it to start a conversation about the work together, not to "
        "diagnose."
    ),
    # Raise this when the wording or scoring below changes: each practice then gets a new
    # version, and the answers already given stay with the old one.
    "revision": 1,
    "version": {
        "instructions": (
            "Thinking about today's session, how true is each sentence for you? Choose a number "
            "from 0 (not at all) to 10 (completely). There are no right or wrong answers: honest "
            "answers, low ones too, help your clinician get it right for you."
        ),
        "scale_min": 0,
        "scale_max": 10,
        "anchors": [
            {"value": 0, "label": "Not at all"},
            {"value": 10, "label": "Completely"},
        ],
        "scoring_rule": "index",
        "higher_is_better": True,
        "bands": [],
        "reliable_change_points": None,
        "reliable_change_sd": None,
        "reliable_change_reliability": None,
        "subscales": [
            {"key": "bond", "label": "Feeling understood and cared about"},
            {"key": "goals", "label": "Working on what matters to me"},
            {"key": "tasks", "label": "How we work together"},
        ],
        "items": [
            {"key": "heard", "text": "I felt heard and understood.",
             "subscale": "bond", "is_core": True},
            {"key": "my-goals", "text": "We worked on what I wanted to work on.",
             "subscale": "goals", "is_core": True},
            {"key": "approach", "text": "The way we worked fit me.",
             "subscale": "tasks", "is_core": True},
            {"key": "pace", "text": "The pace was right for me.",
             "subscale": "tasks", "is_core": True},
            {"key": "cared", "text": "I felt cared about.",
             "subscale": "bond", "is_core": True},
            {"key": "challenged", "text": "I was helpfully challenged.",
             "subscale": "tasks", "is_core": True},
            {"key": "say", "text": "I had a say in what happens next.",
             "subscale": "goals", "is_core": True},
            {"key": "overall", "text": "Overall, today's session was right for me.",
             "is_core": True},
            {"key": "rupture", "response_kind": "yes_no", "required": False, "scored": False,
             "flag": "rupture",
             "text": "Was there a moment today that didn't feel right between us?"},
            {"key": "rupture-detail", "response_kind": "text", "required": False,
             "scored": False, "text": "If you'd like to, tell us a little about it."},
            {"key": "do-differently", "response_kind": "text", "required": False,
             "scored": False, "text": "What could your clinician do differently?"},
        ],
    },
}
