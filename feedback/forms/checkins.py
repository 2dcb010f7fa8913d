"""The check-in form: one screen with every question of an instrument version.

Answers are posted as `a-<item key>`; every such field is passed to the service, including
keys the version does not have, so a tampered form is refused by the same checks as any other
bad answer (feedback.scoring.clean_answers) and nothing is stored.
"""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from feedback import scoring

PREFIX = "a-"
NON_FIELD = "__all__"


@dataclass
class Option:
    value: str
    label: str  # what the option says ("3", "Several days", "Yes")
    description: str = ""  # an anchor, read with the number ("Not at all")
    checked: bool = False


@dataclass
class Question:
    number: int
    key: str
    text: str
    kind: str
    required: bool
    layout: str = ""  # "numbers" (a row of numbers), "list" (labelled options), "text"
    options: list[Option] = field(default_factory=list)
    low_anchor: str = ""
    high_anchor: str = ""
    value: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return PREFIX + self.key

    @property
    def html_id(self) -> str:
        return f"q-{self.key}"


def posted_answers(data) -> dict:
    """Every posted answer field, by item key (unknown keys included, see above). Needs no
    items: a submit that is stored never builds the form."""
    answers = {}
    for name in data:
        if not name.startswith(PREFIX):
            continue
        values = data.getlist(name)
        answers[name[len(PREFIX):]] = values[0] if len(values) == 1 else values
    return answers


class CheckinForm:
    def __init__(self, version, items, data=None):
        self.version = version
        self.items = list(items)
        self.spec = version.spec(self.items)
        self.data = data
        self.non_field_errors: list[str] = []
        self.questions = self._questions()

    @property
    def max_text_length(self) -> int:
        return scoring.TEXT_MAX_LENGTH

    def answers(self) -> dict:
        return {} if self.data is None else posted_answers(self.data)

    def add_error(self, error: ValidationError) -> None:
        by_key = {q.key: q for q in self.questions}
        if not hasattr(error, "error_dict"):
            self.non_field_errors.extend(error.messages)
            return
        unknown = []
        for key, errors in error.error_dict.items():
            messages = [m for e in errors for m in e.messages]
            if key in by_key:
                by_key[key].errors.extend(messages)
            elif key == NON_FIELD:
                self.non_field_errors.extend(messages)
            else:
                unknown.append(key)
        if unknown:
            self.non_field_errors.append(
                "Some answers sent with the form are not part of this check-in, so nothing "
                "was saved. Please reload the page and answer again."
            )

    @property
    def has_errors(self) -> bool:
        return bool(self.non_field_errors) or any(q.errors for q in self.questions)

    @property
    def error_count(self) -> int:
        return len(self.non_field_errors) + sum(1 for q in self.questions if q.errors)

    def _posted(self, key: str) -> str:
        if self.data is None:
            return ""
        value = self.data.get(PREFIX + key, "")
        return value if isinstance(value, str) else ""

    def _questions(self) -> list[Question]:
        anchors = {o.value: o.label for o in self.spec.anchors}
        questions = []
        for number, (item, item_spec) in enumerate(zip(self.items, self.spec.items,
                                                       strict=True), start=1):
            value = self._posted(item.key)
            question = Question(
                number=number, key=item.key, text=item.text, kind=item.response_kind,
                required=item.required, value=value,
            )
            if item.response_kind == scoring.SCALE:
                labels = (
                    {o.value: o.label for o in item_spec.options} if item_spec.options
                    else anchors
                )
                values = self.spec.values_of(item_spec)
                every_labelled = all(labels.get(v) for v in values)
                question.layout = "list" if every_labelled else "numbers"
                question.options = [
                    Option(
                        value=str(v),
                        label=labels[v] if every_labelled else str(v),
                        description="" if every_labelled else labels.get(v, ""),
                        checked=value == str(v),
                    )
                    for v in values
                ]
                if not every_labelled:
                    question.low_anchor = labels.get(values[0], "")
                    question.high_anchor = labels.get(values[-1], "")
            elif item.response_kind == scoring.YES_NO:
                question.layout = "list"
                question.options = [
                    Option("yes", "Yes", checked=value.lower() == "yes"),
                    Option("no", "No", checked=value.lower() == "no"),
                ]
            else:
                question.layout = "text"
            questions.append(question)
        return questions
