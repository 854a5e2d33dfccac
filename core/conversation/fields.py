"""How a flow is declared: questions, their kinds, choices and validators.

Flows are data so that the intake, the survey and the self-check read like the paper forms
they replace, and so that every rule a bot platform imposes (LINE shows at most 13 quick
replies) is checked once, when the flow is declared, instead of failing on an owner's phone.

Validators take plain callables for the actual parsing, so a flow can plug in the shared
Japanese normalisation (core.text) without this module depending on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Final, TypeAlias, TypeVar

from core.i18n import Text
from core.text.normalize import nfkc

MAX_CHOICES: Final = 13
"""LINE shows at most 13 quick-reply buttons; a choice that does not fit cannot be tapped."""

RESERVED_PREFIX: Final = "__"
"""Values starting with this belong to the engine's commands (back, cancel, done...)."""

AnswerValue: TypeAlias = str | int | bool | date | list[str]
Validator: TypeAlias = Callable[[str], "AnswerValue | Text"]
"""Turns raw input into a typed answer, or returns the Text that explains what went wrong."""
AskIf: TypeAlias = Callable[[Mapping[str, AnswerValue]], bool]

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_T = TypeVar("_T")


class QuestionKind(StrEnum):
    TEXT = "text"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    INTEGER = "integer"
    DATE = "date"
    YES_NO = "yes_no"


CHOICE_KINDS: Final = frozenset({QuestionKind.CHOICE, QuestionKind.MULTI_CHOICE})
TYPED_KINDS: Final = frozenset({QuestionKind.TEXT, QuestionKind.INTEGER, QuestionKind.DATE})


@dataclass(frozen=True)
class Choice:
    """A button: `value` is what gets stored and posted back, `label` what the owner sees."""

    value: str
    label: Text


@dataclass(frozen=True)
class Question:
    key: str
    prompt: Text
    kind: QuestionKind = QuestionKind.TEXT
    choices: tuple[Choice, ...] = ()
    validator: Validator | None = None
    ask_if: AskIf | None = None
    min_selected: int = 1
    """For multi_choice: how many must be picked before "done" is accepted (0 = optional)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if not _KEY.match(self.key):
            raise ValueError(f"question key {self.key!r}: use lower_snake_case")
        if self.kind in CHOICE_KINDS:
            self._check_choices()
        elif self.choices:
            raise ValueError(f"question {self.key!r}: only choice questions take choices")
        if self.validator is not None and self.kind not in TYPED_KINDS:
            raise ValueError(f"question {self.key!r}: a {self.kind} question takes no validator")

    def _check_choices(self) -> None:
        # A multi choice needs one more button for "done".
        room = MAX_CHOICES - 1 if self.kind is QuestionKind.MULTI_CHOICE else MAX_CHOICES
        if not self.choices:
            raise ValueError(f"question {self.key!r}: a {self.kind} question needs choices")
        if len(self.choices) > room:
            raise ValueError(
                f"question {self.key!r}: {len(self.choices)} choices, at most {room} fit "
                f"in LINE quick replies"
            )
        values = [choice.value for choice in self.choices]
        if len(set(values)) != len(values):
            raise ValueError(f"question {self.key!r}: choice values must be unique")
        for value in values:
            if not value or value.startswith(RESERVED_PREFIX):
                raise ValueError(f"question {self.key!r}: choice value {value!r} is reserved")
        if self.kind is QuestionKind.MULTI_CHOICE and not (
            0 <= self.min_selected <= len(self.choices)
        ):
            raise ValueError(f"question {self.key!r}: min_selected out of range")

    def applies(self, answers: Mapping[str, AnswerValue]) -> bool:
        return self.ask_if is None or self.ask_if(answers)

    def choice(self, value: str) -> Choice | None:
        return next((choice for choice in self.choices if choice.value == value), None)

    def parse(self, raw: str) -> AnswerValue | Text:
        """Typed answer for text, integer and date questions (choices are matched elsewhere)."""
        validator = self.validator or _DEFAULT_VALIDATORS[self.kind]()
        return validator(raw)


@dataclass(frozen=True)
class Flow:
    id: str
    questions: tuple[Question, ...]
    expiry: timedelta = timedelta(days=1)
    """Idle longer than this and the next message asks whether to continue or start over."""
    intro: Text | None = None
    done_text: Text = field(default_factory=lambda: Text("conversation.done"))

    def __post_init__(self) -> None:
        object.__setattr__(self, "questions", tuple(self.questions))
        if not self.id:
            raise ValueError("a flow needs an id")
        if not self.questions:
            raise ValueError(f"flow {self.id!r} has no questions")
        keys = [question.key for question in self.questions]
        if len(set(keys)) != len(keys):
            raise ValueError(f"flow {self.id!r}: question keys must be unique")
        if self.expiry <= timedelta(0):
            raise ValueError(f"flow {self.id!r}: expiry must be positive")

    def index(self, key: str | None) -> int | None:
        return next((i for i, q in enumerate(self.questions) if q.key == key), None)

    def question(self, key: str) -> Question:
        position = self.index(key)
        if position is None:
            raise KeyError(f"flow {self.id!r} has no question {key!r}")
        return self.questions[position]


# Validators ---------------------------------------------------------------------------------


def normalize_input(raw: str) -> str:
    """Full-width digits and letters from phone keyboards become their plain forms."""
    return nfkc(raw).strip()


def parse_plain_int(raw: str) -> int | None:
    """A stand-in until a flow passes core.text's parser (万, 億, 円...)."""
    cleaned = re.sub(r"[,\s]", "", normalize_input(raw))
    return int(cleaned) if re.fullmatch(r"[+-]?\d+", cleaned) else None


def parse_plain_date(raw: str) -> date | None:
    """ISO dates (what LINE's date picker posts back) and 2026/4/1 or 2026年4月1日."""
    match = re.fullmatch(
        r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", normalize_input(raw)
    )
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def text_answer(
    *, max_length: int = 1000, normalize: Callable[[str], str] = normalize_input
) -> Validator:
    def validate(raw: str) -> AnswerValue | Text:
        value = normalize(raw)
        if not value:
            return Text("conversation.error.empty")
        if len(value) > max_length:
            return Text("conversation.error.too_long", max=max_length)
        return value

    return validate


def integer_answer(
    *,
    parse: Callable[[str], int | None] = parse_plain_int,
    min_value: int | None = None,
    max_value: int | None = None,
) -> Validator:
    def validate(raw: str) -> AnswerValue | Text:
        value = _attempt(parse, raw)
        if value is None:
            return Text("conversation.error.integer")
        if min_value is not None and value < min_value:
            return Text("conversation.error.too_small", min=min_value)
        if max_value is not None and value > max_value:
            return Text("conversation.error.too_large", max=max_value)
        return value

    return validate


def date_answer(
    *,
    parse: Callable[[str], date | None] = parse_plain_date,
    earliest: date | None = None,
    latest: date | None = None,
) -> Validator:
    def validate(raw: str) -> AnswerValue | Text:
        value = _attempt(parse, raw)
        if value is None:
            return Text("conversation.error.date")
        if earliest is not None and value < earliest:
            return Text(
                "conversation.error.too_early", earliest=Text("common.date", value=earliest)
            )
        if latest is not None and value > latest:
            return Text("conversation.error.too_late", latest=Text("common.date", value=latest))
        return value

    return validate


def parsed_answer(parse: Callable[[str], str | None], error: Text) -> Validator:
    """For formats a normaliser understands (phone numbers, postal codes): None means invalid."""

    def validate(raw: str) -> AnswerValue | Text:
        value = _attempt(parse, raw)
        return error if value is None else value

    return validate


def _attempt(parse: Callable[[str], _T | None], raw: str) -> _T | None:
    # Parsers from elsewhere may signal bad input by raising instead of returning None.
    try:
        return parse(raw)
    except (ValueError, ArithmeticError):
        return None


_DEFAULT_VALIDATORS: Final[dict[QuestionKind, Callable[[], Validator]]] = {
    QuestionKind.TEXT: text_answer,
    QuestionKind.INTEGER: integer_answer,
    QuestionKind.DATE: date_answer,
}
