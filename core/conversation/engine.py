"""The dialog engine: pure transitions over a stored state.

Every step is a function of (flow, state, input, now) so that the LINE adapter, the
emulator and the tests drive the same code, time never comes from the machine, and the state
can be written to the database between two messages that may be days apart. Owners answer on
phones, get interrupted and come back: nothing they typed is thrown away, an invalid answer
is asked again politely, and a conversation left idle asks before it resumes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final, TypeAlias

from core.conversation.fields import (
    RESERVED_PREFIX,
    AnswerValue,
    Choice,
    Flow,
    Question,
    QuestionKind,
)
from core.i18n import LOCALES, Catalog, ParamValue, Text
from core.text.normalize import normalize_text

JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"


class Status(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    """Idle past the flow's expiry: the next input is asked whether to continue or restart."""
    DONE = "done"
    CANCELLED = "cancelled"


class Command(StrEnum):
    """What quick replies post back; typed words are matched to these as well."""

    BACK = "__back__"
    CANCEL = "__cancel__"
    DONE = "__done__"
    KEEP = "__keep__"
    CONTINUE = "__continue__"
    RESTART = "__restart__"


# Words people type instead of tapping. Labels from the catalog (in every language) count too.
_COMMAND_WORDS: Final[dict[Command, frozenset[str]]] = {
    Command.BACK: frozenset({"戻る", "もどる", "back"}),
    Command.CANCEL: frozenset({"やめる", "中止", "キャンセル", "cancel", "stop"}),
    Command.DONE: frozenset({"完了", "おわり", "終わり", "done"}),
    Command.KEEP: frozenset({"そのまま", "変更なし", "keep"}),
    Command.CONTINUE: frozenset({"続きから", "つづきから", "再開", "continue", "resume"}),
    Command.RESTART: frozenset({"最初から", "はじめから", "restart", "start over"}),
}
_COMMAND_LABELS: Final[dict[Command, Text]] = {
    command: Text(f"conversation.command.{command.name.lower()}") for command in Command
}
_YES_NO: Final = (Choice("yes", Text("common.yes")), Choice("no", Text("common.no")))
_YES_NO_WORDS: Final = {"y": "yes", "n": "no"}


@dataclass(frozen=True)
class ConversationKey:
    """One conversation per person per channel, as python-telegram-bot keys its handlers."""

    platform: str
    channel_id: str
    user_id: str


@dataclass
class PastAttempt:
    """Answers of a run the owner chose to restart: kept, because they typed them."""

    answers: dict[str, JsonValue]
    started_at: datetime
    ended_at: datetime
    reason: str = "restart"

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "answers": copy.deepcopy(self.answers),
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PastAttempt:
        return cls(
            answers=dict(data["answers"]),
            started_at=datetime.fromisoformat(data["started_at"]),
            ended_at=datetime.fromisoformat(data["ended_at"]),
            reason=str(data.get("reason", "restart")),
        )


@dataclass
class ConversationState:
    key: ConversationKey
    flow_id: str
    status: Status
    step: str | None
    """The question being asked; None once the conversation is done."""
    answers: dict[str, AnswerValue]
    started_at: datetime
    updated_at: datetime
    expires_at: datetime
    known: list[str] = field(default_factory=list)
    """Answers given at start (a returning owner's profile): never asked, never dropped."""
    history: list[PastAttempt] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in (Status.DONE, Status.CANCELLED)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "platform": self.key.platform,
            "channel_id": self.key.channel_id,
            "user_id": self.key.user_id,
            "flow_id": self.flow_id,
            "status": self.status.value,
            "step": self.step,
            "answers": encode_answers(self.answers),
            "known": list(self.known),
            "history": [attempt.to_json() for attempt in self.history],
            "started_at": self.started_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], flow: Flow | None = None) -> ConversationState:
        """Rebuild a stored state; with the flow at hand, date answers become dates again.

        Without the flow they stay ISO strings until the engine next touches the state.
        """
        answers: dict[str, AnswerValue] = dict(data["answers"])
        return cls(
            key=ConversationKey(
                str(data["platform"]), str(data["channel_id"]), str(data["user_id"])
            ),
            flow_id=str(data["flow_id"]),
            status=Status(data["status"]),
            step=data.get("step"),
            answers=decode_answers(flow, answers) if flow is not None else answers,
            known=[str(key) for key in data.get("known", [])],
            history=[PastAttempt.from_json(item) for item in data.get("history", [])],
            started_at=datetime.fromisoformat(data["started_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            expires_at=datetime.fromisoformat(data["expires_at"]),
        )


@dataclass(frozen=True)
class Reply:
    """A channel-neutral message: the adapter turns choices into quick replies or buttons.

    `kind` tells the adapter what input is expected (a date picker for `date`), `default` is
    the earlier answer to pre-fill when the owner came back to a question.
    """

    texts: tuple[Text, ...]
    choices: tuple[Choice, ...] = ()
    kind: QuestionKind | None = None
    question_key: str | None = None
    default: AnswerValue | None = None
    allow_back: bool = False
    allow_cancel: bool = False


def encode_answers(answers: Mapping[str, AnswerValue]) -> dict[str, JsonValue]:
    encoded: dict[str, JsonValue] = {}
    for key, value in answers.items():
        if isinstance(value, date):
            encoded[key] = value.isoformat()
        elif isinstance(value, list):
            encoded[key] = list(value)
        else:
            encoded[key] = value
    return encoded


def decode_answers(flow: Flow, answers: Mapping[str, Any]) -> dict[str, AnswerValue]:
    """Undo the JSON form: the flow says which answers are dates."""
    decoded: dict[str, AnswerValue] = {}
    for key, value in answers.items():
        position = flow.index(key)
        is_date = position is not None and flow.questions[position].kind is QuestionKind.DATE
        if is_date and isinstance(value, str):
            decoded[key] = date.fromisoformat(value)
        elif isinstance(value, list):
            decoded[key] = [str(item) for item in value]
        else:
            decoded[key] = value
    return decoded


# Transitions --------------------------------------------------------------------------------


def start(
    flow: Flow,
    key: ConversationKey,
    now: datetime,
    *,
    known: Mapping[str, AnswerValue] | None = None,
) -> tuple[ConversationState, Reply]:
    """Begin a flow; answers already known (a returning owner) are kept and not asked again."""
    given = {name: value for name, value in (known or {}).items() if flow.index(name) is not None}
    state = ConversationState(
        key=key,
        flow_id=flow.id,
        status=Status.ACTIVE,
        step=None,
        answers=dict(given),
        known=sorted(given),
        started_at=now,
        updated_at=now,
        expires_at=now + flow.expiry,
    )
    lead = (flow.intro,) if flow.intro is not None else ()
    return _advance(flow, state, after=-1, lead=lead)


def answer(
    flow: Flow,
    state: ConversationState,
    user_input: str,
    now: datetime,
    *,
    catalog: Catalog | None = None,
) -> tuple[ConversationState, Reply]:
    """Apply one message. The given state is left untouched; a new one is returned.

    `catalog` is used to recognise labels typed instead of tapped, in every language.
    """
    if state.flow_id != flow.id:
        raise ValueError(f"state belongs to flow {state.flow_id!r}, not {flow.id!r}")
    if state.finished:
        raise ValueError(f"conversation is {state.status}: start a new one")
    state = copy.deepcopy(state)
    state.answers = decode_answers(flow, state.answers)
    catalog = catalog or Catalog.load()
    state.updated_at = now
    if state.status is Status.ACTIVE and now >= state.expires_at:
        state.status = Status.EXPIRED
        return state, _resume_prompt()
    if state.status is Status.EXPIRED:
        return _on_resume_choice(flow, state, user_input, now, catalog)
    state.expires_at = now + flow.expiry
    return _on_answer(flow, state, user_input, now, catalog)


def _on_resume_choice(
    flow: Flow, state: ConversationState, user_input: str, now: datetime, catalog: Catalog
) -> tuple[ConversationState, Reply]:
    command = _command(user_input, catalog, {Command.CONTINUE, Command.RESTART, Command.CANCEL})
    if command is Command.CANCEL:
        return _cancel(state)
    if command is Command.CONTINUE:
        state.status = Status.ACTIVE
        state.expires_at = now + flow.expiry
        position = _current(flow, state)
        if position is None:
            return _finish(flow, state, lead=())
        state.step = flow.questions[position].key
        return state, _ask(flow, state, position, lead=(Text("conversation.resume.continued"),))
    if command is Command.RESTART:
        state.history.append(
            PastAttempt(
                answers=encode_answers(state.answers),
                started_at=state.started_at,
                ended_at=now,
            )
        )
        state.answers = {
            name: value for name, value in state.answers.items() if name in state.known
        }
        state.status = Status.ACTIVE
        state.started_at = now
        state.expires_at = now + flow.expiry
        return _advance(flow, state, after=-1, lead=(Text("conversation.resume.restarted"),))
    return state, _resume_prompt(error=Text("conversation.error.resume"))


def _on_answer(
    flow: Flow, state: ConversationState, user_input: str, now: datetime, catalog: Catalog
) -> tuple[ConversationState, Reply]:
    position = _current(flow, state)
    if position is None:
        return _finish(flow, state, lead=())
    question = flow.questions[position]
    state.step = question.key
    choices = _choices_of(question)
    picked = _match_choice(choices, user_input, catalog)
    answered = question.key in state.answers
    allowed = {Command.BACK, Command.CANCEL}
    if question.kind is QuestionKind.MULTI_CHOICE:
        allowed.add(Command.DONE)
    elif answered:
        allowed.add(Command.KEEP)
    # A tapped postback always means the command; a typed word only if it is not a choice
    # (a booking flow may well offer a choice labelled キャンセル).
    command = _command(user_input, catalog, allowed, words=picked is None)

    if command is Command.CANCEL:
        return _cancel(state)
    if command is Command.BACK:
        previous = _previous(flow, state, position)
        if previous is None:
            return state, _ask(flow, state, position, lead=(Text("conversation.back.at_start"),))
        state.step = flow.questions[previous].key
        return state, _ask(flow, state, previous, lead=())
    if command is Command.KEEP:
        return _advance(flow, state, after=position, lead=())
    if command is None and picked is None and _fold(user_input).startswith(RESERVED_PREFIX):
        # An old button tapped out of turn: never store a command token as an answer.
        return state, _ask(flow, state, position, lead=(Text("conversation.error.unexpected"),))

    if question.kind is QuestionKind.MULTI_CHOICE:
        return _on_multi_choice(flow, state, position, picked, command is Command.DONE)
    value: AnswerValue | Text
    if question.kind is QuestionKind.CHOICE:
        value = picked.value if picked else Text("conversation.error.choice")
    elif question.kind is QuestionKind.YES_NO:
        value = picked.value == "yes" if picked else Text("conversation.error.yes_no")
    else:
        value = question.parse(user_input)
    if isinstance(value, Text):
        return state, _ask(flow, state, position, lead=(value,))
    if isinstance(value, date) and question.kind is not QuestionKind.DATE:
        # Only date questions are turned back into dates when a state is loaded.
        raise TypeError(f"question {question.key!r}: a date answer needs kind=date")
    state.answers[question.key] = value
    return _advance(flow, state, after=position, lead=())


def _on_multi_choice(
    flow: Flow, state: ConversationState, position: int, picked: Choice | None, done: bool
) -> tuple[ConversationState, Reply]:
    question = flow.questions[position]
    selected = _selected(state, question)
    if done:
        if len(selected) < question.min_selected:
            error = Text("conversation.error.multi_empty", min=question.min_selected)
            return state, _ask(flow, state, position, lead=(error,))
        state.answers[question.key] = selected
        return _advance(flow, state, after=position, lead=())
    if picked is None:
        return state, _ask(flow, state, position, lead=(Text("conversation.error.choice"),))
    if picked.value in selected:
        selected.remove(picked.value)
        note = Text("conversation.multi.removed", label=picked.label)
    else:
        selected.append(picked.value)
        note = Text("conversation.multi.added", label=picked.label)
    order = [choice.value for choice in question.choices]
    state.answers[question.key] = sorted(selected, key=order.index)
    return state, _ask(flow, state, position, lead=(note,), repeat_prompt=False)


def _cancel(state: ConversationState) -> tuple[ConversationState, Reply]:
    state.status = Status.CANCELLED
    return state, Reply(texts=(Text("conversation.cancelled"),))


def _advance(
    flow: Flow, state: ConversationState, *, after: int, lead: tuple[Text, ...]
) -> tuple[ConversationState, Reply]:
    position = _next(flow, state, after)
    if position is None:
        return _finish(flow, state, lead=lead)
    state.step = flow.questions[position].key
    return state, _ask(flow, state, position, lead=lead)


def _finish(
    flow: Flow, state: ConversationState, *, lead: tuple[Text, ...]
) -> tuple[ConversationState, Reply]:
    # An answer to a question that no longer applies (the owner went back and changed the
    # answer it depended on) would contradict the rest of the record.
    state.answers = {
        question.key: state.answers[question.key]
        for question in flow.questions
        if question.key in state.answers
        and (question.key in state.known or question.applies(state.answers))
    }
    state.status = Status.DONE
    state.step = None
    return state, Reply(texts=(*lead, flow.done_text))


def _ask(
    flow: Flow,
    state: ConversationState,
    position: int,
    *,
    lead: tuple[Text, ...],
    repeat_prompt: bool = True,
) -> Reply:
    question = flow.questions[position]
    texts = list(lead)
    if repeat_prompt:
        texts.append(question.prompt)
    choices = list(_choices_of(question))
    previous = state.answers.get(question.key)
    if question.kind is QuestionKind.MULTI_CHOICE:
        if repeat_prompt:
            texts.append(Text("conversation.multi.hint"))
        labels = tuple(_label(question, value) for value in _selected(state, question))
        texts.append(
            Text("conversation.multi.selected", labels=labels)
            if labels
            else Text("conversation.multi.none_selected")
        )
        choices.append(Choice(Command.DONE.value, _COMMAND_LABELS[Command.DONE]))
    elif previous is not None:
        texts.append(Text("conversation.previous_answer", value=_display(question, previous)))
        if not choices:
            choices.append(Choice(Command.KEEP.value, _COMMAND_LABELS[Command.KEEP]))
    return Reply(
        texts=tuple(texts),
        choices=tuple(choices),
        kind=question.kind,
        question_key=question.key,
        default=copy.deepcopy(previous),
        allow_back=_previous(flow, state, position) is not None,
        allow_cancel=True,
    )


def _resume_prompt(error: Text | None = None) -> Reply:
    texts = (error,) if error is not None else ()
    return Reply(
        texts=(*texts, Text("conversation.resume.prompt")),
        choices=tuple(
            Choice(command.value, _COMMAND_LABELS[command])
            for command in (Command.CONTINUE, Command.RESTART)
        ),
        allow_cancel=True,
    )


# Navigation ---------------------------------------------------------------------------------


def _asks(flow: Flow, state: ConversationState, position: int) -> bool:
    question = flow.questions[position]
    return question.key not in state.known and question.applies(state.answers)


def _next(flow: Flow, state: ConversationState, after: int) -> int | None:
    return next(
        (i for i in range(after + 1, len(flow.questions)) if _asks(flow, state, i)),
        None,
    )


def _previous(flow: Flow, state: ConversationState, before: int) -> int | None:
    # Walked again over the current answers rather than replayed from a stack: if an earlier
    # answer changed, "back" follows the questions that apply now.
    return next((i for i in range(before - 1, -1, -1) if _asks(flow, state, i)), None)


def _current(flow: Flow, state: ConversationState) -> int | None:
    position = flow.index(state.step)
    if position is not None:
        return position
    # The flow changed under a stored state: carry on with the first unanswered question.
    return next(
        (
            i
            for i, question in enumerate(flow.questions)
            if question.key not in state.answers and _asks(flow, state, i)
        ),
        None,
    )


# Matching input -----------------------------------------------------------------------------


def _fold(raw: str) -> str:
    return normalize_text(raw).casefold()


def _command(
    user_input: str, catalog: Catalog, allowed: set[Command], *, words: bool = True
) -> Command | None:
    folded = _fold(user_input)
    for command in allowed:
        if folded == command.value:
            return command
    if not words or folded.startswith(RESERVED_PREFIX):
        return None
    for command in allowed:
        spoken = _COMMAND_WORDS[command] | _labels(catalog, _COMMAND_LABELS[command])
        if folded in {_fold(word) for word in spoken}:
            return command
    return None


def _match_choice(choices: tuple[Choice, ...], user_input: str, catalog: Catalog) -> Choice | None:
    folded = _fold(user_input)
    for choice in choices:
        if folded == _fold(choice.value) or folded in _labels(catalog, choice.label):
            return choice
    if folded in _YES_NO_WORDS and choices == _YES_NO:
        return _YES_NO[0] if _YES_NO_WORDS[folded] == "yes" else _YES_NO[1]
    return None


def _labels(catalog: Catalog, label: Text) -> set[str]:
    return {_fold(catalog.render(label, locale)) for locale in LOCALES}


def _choices_of(question: Question) -> tuple[Choice, ...]:
    return _YES_NO if question.kind is QuestionKind.YES_NO else question.choices


def _selected(state: ConversationState, question: Question) -> list[str]:
    value = state.answers.get(question.key)
    return [str(item) for item in value] if isinstance(value, list) else []


def _label(question: Question, value: str) -> Text:
    choice = question.choice(value)
    return choice.label if choice is not None else Text("common.verbatim", value=value)


def _display(question: Question, value: AnswerValue) -> ParamValue:
    """An earlier answer as the owner should see it again: labels, not stored values."""
    if isinstance(value, bool):
        return Text("common.yes" if value else "common.no")
    if isinstance(value, date):
        return Text("common.date", value=value)
    if isinstance(value, list):
        return tuple(_label(question, item) for item in value)
    if question.kind is QuestionKind.CHOICE and isinstance(value, str):
        return _label(question, value)
    return value
