"""The dialog engine, driven the way an owner on LINE would drive it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from core.clock import ManualClock
from core.conversation import (
    Choice,
    Command,
    ConversationKey,
    ConversationState,
    Flow,
    Question,
    QuestionKind,
    Reply,
    Status,
    answer,
    integer_answer,
    start,
)
from core.i18n import Catalog, Text

KEY = ConversationKey("line", "hub-hokkaido", "U0123")


def _prefecture(value: str, name: str) -> Choice:
    return Choice(value, Text("common.verbatim", value=name))


FLOW = Flow(
    id="sample_intake",
    intro=Text("common.verbatim", value="intro"),
    expiry=timedelta(hours=24),
    questions=(
        Question("business_name", Text("common.verbatim", value="name?")),
        Question(
            "prefecture",
            Text("common.verbatim", value="prefecture?"),
            kind=QuestionKind.CHOICE,
            choices=(_prefecture("hokkaido", "北海道"), _prefecture("tokyo", "東京都")),
        ),
        Question(
            "topics",
            Text("common.verbatim", value="topics?"),
            kind=QuestionKind.MULTI_CHOICE,
            choices=(
                Choice("founding", Text("topic.founding")),
                Choice("finance", Text("topic.finance")),
                Choice("tax", Text("topic.tax")),
            ),
        ),
        Question(
            "has_employees", Text("common.verbatim", value="employees?"), kind=QuestionKind.YES_NO
        ),
        Question(
            "employees",
            Text("common.verbatim", value="how many?"),
            kind=QuestionKind.INTEGER,
            validator=integer_answer(min_value=1),
            ask_if=lambda answers: answers.get("has_employees") is True,
        ),
        Question("founded", Text("common.verbatim", value="founded?"), kind=QuestionKind.DATE),
    ),
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 6, 2, 1, 0, tzinfo=UTC))


class Owner:
    """Sends messages one after another, keeping the state like the store would."""

    def __init__(self, clock: ManualClock, **known: object) -> None:
        self.clock = clock
        self.state, self.reply = start(FLOW, KEY, clock.now(), known=known)  # type: ignore[arg-type]

    def says(self, *messages: str) -> Reply:
        for message in messages:
            self.state, self.reply = answer(FLOW, self.state, message, self.clock.now())
        return self.reply

    def status(self) -> Status:
        return self.state.status

    @property
    def asked(self) -> str | None:
        return self.reply.question_key


def _render(reply: Reply, locale: str = "ja") -> list[str]:
    catalog = Catalog.load()
    return [catalog.render(text, locale) for text in reply.texts]


def test_valid_path_ends_done_with_typed_answers(clock: ManualClock) -> None:
    owner = Owner(clock)
    assert owner.reply.texts[0] == Text("common.verbatim", value="intro")
    assert owner.asked == "business_name"
    assert owner.reply.allow_cancel
    assert not owner.reply.allow_back

    owner.says(
        "  やまだ商店 ", "北海道", "founding", "tax", Command.DONE, "はい", "１２", "2019/4/1"
    )

    assert owner.status() is Status.DONE
    assert owner.state.step is None
    assert owner.state.answers == {
        "business_name": "やまだ商店",
        "prefecture": "hokkaido",
        "topics": ["founding", "tax"],
        "has_employees": True,
        "employees": 12,
        "founded": date(2019, 4, 1),
    }
    assert owner.reply.texts == (Text("conversation.done"),)
    assert owner.reply.choices == ()


def test_each_answer_is_stored_as_it_arrives(clock: ManualClock) -> None:
    owner = Owner(clock)
    owner.says("やまだ商店")
    assert owner.state.answers == {"business_name": "やまだ商店"}
    assert owner.state.step == "prefecture"
    assert owner.reply.kind is QuestionKind.CHOICE
    assert [choice.value for choice in owner.reply.choices] == ["hokkaido", "tokyo"]


def test_invalid_answer_is_asked_again_politely_and_keeps_earlier_answers(
    clock: ManualClock,
) -> None:
    owner = Owner(clock)
    owner.says("やまだ商店", "tokyo", Command.DONE)
    assert owner.asked == "topics"
    assert owner.reply.texts[0] == Text("conversation.error.multi_empty", min=1)

    owner.says("finance", Command.DONE, "たぶん")
    assert owner.reply.texts[0] == Text("conversation.error.yes_no")
    owner.says("y", "ゼロ")
    assert owner.asked == "employees"
    assert owner.reply.texts == (
        Text("conversation.error.integer"),
        Text("common.verbatim", value="how many?"),
    )
    owner.says("0")
    assert owner.reply.texts[0] == Text("conversation.error.too_small", min=1)
    owner.says("3", "someday")
    assert owner.reply.texts[0] == Text("conversation.error.date")
    assert _render(owner.reply)[0].startswith("お手数ですが")
    assert owner.state.answers == {
        "business_name": "やまだ商店",
        "prefecture": "tokyo",
        "topics": ["finance"],
        "has_employees": True,
        "employees": 3,
    }


def test_back_shows_the_previous_answer_and_invalid_input_never_overwrites_it(
    clock: ManualClock,
) -> None:
    owner = Owner(clock)
    owner.says("やまだ商店", "北海道", "founding", Command.DONE, "はい", "5")
    assert owner.asked == "founded"
    assert owner.reply.allow_back

    owner.says("戻る")
    assert owner.asked == "employees"
    assert owner.reply.default == 5
    assert Text("conversation.previous_answer", value=5) in owner.reply.texts
    assert Choice(Command.KEEP.value, Text("conversation.command.keep")) in owner.reply.choices

    owner.says("many")
    assert owner.state.answers["employees"] == 5
    assert owner.asked == "employees"

    owner.says("変更しない")
    assert owner.asked == "founded"
    assert owner.state.answers["employees"] == 5


def test_back_on_a_choice_shows_the_label_and_a_new_answer_replaces_the_old(
    clock: ManualClock,
) -> None:
    owner = Owner(clock)
    owner.says("やまだ商店", "北海道", "back")
    assert owner.asked == "prefecture"
    assert owner.reply.default == "hokkaido"
    assert _render(owner.reply)[-1] == "前回のご回答：北海道"
    owner.says("東京都")
    assert owner.state.answers["prefecture"] == "tokyo"
    assert owner.asked == "topics"


def test_back_on_the_first_question_says_so(clock: ManualClock) -> None:
    owner = Owner(clock)
    owner.says(Command.BACK)
    assert owner.asked == "business_name"
    assert owner.reply.texts[0] == Text("conversation.back.at_start")


def test_back_follows_the_questions_that_apply_now(clock: ManualClock) -> None:
    owner = Owner(clock)
    owner.says("やまだ商店", "北海道", "founding", Command.DONE, "はい", "5", "back", "back")
    assert owner.asked == "has_employees"
    owner.says("いいえ")
    assert owner.asked == "founded"
    owner.says("back")
    assert owner.asked == "has_employees"
    owner.says("no", "2020-01-15")
    assert owner.status() is Status.DONE
    # The head count no longer applies once the owner says there are no employees.
    assert "employees" not in owner.state.answers
    assert owner.state.answers["has_employees"] is False


def test_cancel_keeps_every_answer(clock: ManualClock) -> None:
    owner = Owner(clock)
    owner.says("やまだ商店", "北海道", "founding")
    owner.says("やめる")
    assert owner.status() is Status.CANCELLED
    assert owner.reply.texts == (
        Text(
            "conversation.cancelled",
        ),
    )
    assert owner.state.answers == {
        "business_name": "やまだ商店",
        "prefecture": "hokkaido",
        "topics": ["founding"],
    }
    with pytest.raises(ValueError, match="start a new one"):
        answer(FLOW, owner.state, "hello", clock.now())


def test_multi_choice_toggles_and_reports_the_selection(clock: ManualClock) -> None:
    owner = Owner(clock)
    owner.says("やまだ商店", "北海道")
    assert owner.reply.kind is QuestionKind.MULTI_CHOICE
    assert [choice.value for choice in owner.reply.choices] == [
        "founding",
        "finance",
        "tax",
        Command.DONE.value,
    ]
    assert Text("conversation.multi.hint") in owner.reply.texts

    owner.says("tax")
    assert owner.reply.texts[0] == Text("conversation.multi.added", label=Text("topic.tax"))
    owner.says("Finance")  # the English label, typed
    owner.says("創業")  # the Japanese label, typed
    assert owner.state.answers["topics"] == ["founding", "finance", "tax"]
    assert _render(owner.reply)[-1] == "選択中：創業、資金繰り・融資、税務"

    owner.says("tax")
    assert owner.reply.texts[0] == Text("conversation.multi.removed", label=Text("topic.tax"))
    owner.says("unknown")
    assert owner.reply.texts[0] == Text("conversation.error.choice")
    owner.says("完了")
    assert owner.state.answers["topics"] == ["founding", "finance"]
    assert owner.asked == "has_employees"


def test_idle_past_expiry_asks_before_resuming_and_can_continue(clock: ManualClock) -> None:
    owner = Owner(clock)
    owner.says("やまだ商店", "北海道")
    clock.advance(timedelta(hours=25))

    owner.says("founding")
    assert owner.status() is Status.EXPIRED
    assert owner.reply.texts == (Text("conversation.resume.prompt"),)
    assert _render(owner.reply) == ["前回の続きから再開しますか？"]
    assert [choice.value for choice in owner.reply.choices] == ["__continue__", "__restart__"]
    assert "topics" not in owner.state.answers  # the stale message is not taken as an answer

    owner.says("what?")
    assert owner.reply.texts[0] == Text("conversation.error.resume")
    assert owner.status() is Status.EXPIRED

    owner.says("続きから")
    assert owner.status() is Status.ACTIVE
    assert owner.asked == "topics"
    assert owner.reply.texts[0] == Text("conversation.resume.continued")
    assert owner.state.expires_at == clock.now() + FLOW.expiry
    assert owner.state.answers == {"business_name": "やまだ商店", "prefecture": "hokkaido"}


def test_restart_after_expiry_keeps_the_old_answers_in_history(clock: ManualClock) -> None:
    owner = Owner(clock, prefecture="tokyo")
    first_start = clock.now()
    owner.says("やまだ商店", "founding", Command.DONE)
    clock.advance(timedelta(days=3))
    owner.says("hello", Command.RESTART)

    assert owner.status() is Status.ACTIVE
    assert owner.reply.texts[0] == Text("conversation.resume.restarted")
    assert owner.asked == "business_name"
    assert owner.state.answers == {"prefecture": "tokyo"}  # known answers survive
    assert owner.state.started_at == clock.now()
    (past,) = owner.state.history
    assert past.answers == {
        "prefecture": "tokyo",
        "business_name": "やまだ商店",
        "topics": ["founding"],
    }
    assert past.started_at == first_start
    assert past.ended_at == clock.now()


def test_cancel_is_possible_at_the_resume_prompt(clock: ManualClock) -> None:
    owner = Owner(clock)
    owner.says("やまだ商店")
    clock.advance(timedelta(days=2))
    owner.says("hi", "cancel")
    assert owner.status() is Status.CANCELLED
    assert owner.state.answers == {"business_name": "やまだ商店"}


def test_known_answers_are_not_asked_again(clock: ManualClock) -> None:
    owner = Owner(clock, prefecture="hokkaido", business_name="やまだ商店", unrelated="x")
    assert owner.asked == "topics"
    assert not owner.reply.allow_back  # nothing before it was asked
    owner.says("back")
    assert owner.asked == "topics"
    owner.says("tax", "done", "いいえ", "2001年4月1日")
    assert owner.status() is Status.DONE
    assert owner.state.answers["prefecture"] == "hokkaido"
    assert owner.state.answers["business_name"] == "やまだ商店"
    assert "unrelated" not in owner.state.answers
    assert owner.state.answers["founded"] == date(2001, 4, 1)


def test_ask_if_skips_a_question(clock: ManualClock) -> None:
    owner = Owner(clock)
    owner.says("やまだ商店", "北海道", "tax", "done", "いいえ")
    assert owner.asked == "founded"
    assert "employees" not in owner.state.answers


def test_a_flow_where_everything_is_known_is_done_at_once(clock: ManualClock) -> None:
    flow = Flow("one", (Question("name", Text("common.verbatim", value="name?")),))
    state, reply = start(flow, KEY, clock.now(), known={"name": "やまだ"})
    assert state.status is Status.DONE
    assert reply.texts == (Text("conversation.done"),)


def test_a_choice_that_looks_like_a_command_word_is_a_choice(clock: ManualClock) -> None:
    flow = Flow(
        "booking",
        (
            Question(
                "action",
                Text("common.verbatim", value="what?"),
                kind=QuestionKind.CHOICE,
                choices=(
                    Choice("book", Text("common.verbatim", value="予約")),
                    Choice("cancel_booking", Text("conversation.command.cancel")),
                ),
            ),
        ),
    )
    state, _ = start(flow, KEY, clock.now())
    done, _ = answer(flow, state, "やめる", clock.now())
    assert done.status is Status.DONE
    assert done.answers == {"action": "cancel_booking"}
    cancelled, _ = answer(flow, state, Command.CANCEL, clock.now())
    assert cancelled.status is Status.CANCELLED


def test_a_command_button_tapped_out_of_turn_is_not_stored(clock: ManualClock) -> None:
    owner = Owner(clock)
    owner.says(Command.KEEP)
    assert owner.asked == "business_name"
    assert owner.reply.texts[0] == Text("conversation.error.unexpected")
    assert owner.state.answers == {}


def test_transitions_do_not_change_the_given_state(clock: ManualClock) -> None:
    owner = Owner(clock)
    before = owner.state
    snapshot = json.dumps(before.to_json())
    answer(FLOW, before, "やまだ商店", clock.now())
    assert json.dumps(before.to_json()) == snapshot


def test_more_than_thirteen_choices_are_refused_when_declared() -> None:
    choices = tuple(Choice(f"c{i}", Text("common.verbatim", value=str(i))) for i in range(14))
    prompt = Text("common.verbatim", value="?")
    with pytest.raises(ValueError, match="at most 13"):
        Question("q", prompt, kind=QuestionKind.CHOICE, choices=choices)
    Question("q", prompt, kind=QuestionKind.CHOICE, choices=choices[:13])
    with pytest.raises(ValueError, match="at most 12"):
        Question("q", prompt, kind=QuestionKind.MULTI_CHOICE, choices=choices[:13])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "Bad Key"}, "lower_snake_case"),
        ({"kind": QuestionKind.CHOICE}, "needs choices"),
        (
            {"choices": (Choice("a", Text("common.yes")),)},
            "only choice questions take choices",
        ),
        (
            {
                "kind": QuestionKind.CHOICE,
                "choices": (Choice("a", Text("common.yes")), Choice("a", Text("common.no"))),
            },
            "unique",
        ),
        (
            {"kind": QuestionKind.CHOICE, "choices": (Choice("__back__", Text("common.yes")),)},
            "reserved",
        ),
        ({"kind": QuestionKind.YES_NO, "validator": str}, "takes no validator"),
    ],
)
def test_declaration_mistakes_are_refused(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"key": "q", "prompt": Text("common.verbatim", value="?")}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Question(**arguments)  # type: ignore[arg-type]


def test_flow_declaration_mistakes_are_refused() -> None:
    question = Question("q", Text("common.verbatim", value="?"))
    with pytest.raises(ValueError, match="unique"):
        Flow("f", (question, question))
    with pytest.raises(ValueError, match="no questions"):
        Flow("f", ())
    with pytest.raises(ValueError, match="expiry"):
        Flow("f", (question,), expiry=timedelta(0))


def test_state_survives_a_json_round_trip(clock: ManualClock) -> None:
    owner = Owner(clock, prefecture="tokyo")
    owner.says("やまだ商店", "founding", "done", "yes", "4", "2019-04-01")
    assert owner.status() is Status.DONE
    done = owner.state
    owner = Owner(clock, prefecture="tokyo")
    owner.says("やまだ商店", "finance", "done", "no", "back")
    clock.advance(timedelta(days=2))
    owner.says("x", "最初から", "やまだ")

    for state in (done, owner.state):
        text = json.dumps(state.to_json(), ensure_ascii=False)
        restored = ConversationState.from_json(json.loads(text), FLOW)
        assert restored == state
    assert json.loads(json.dumps(done.to_json()))["answers"]["founded"] == "2019-04-01"


def test_a_state_loaded_without_its_flow_is_retyped_by_the_engine(clock: ManualClock) -> None:
    owner = Owner(clock)
    owner.says("やまだ商店", "北海道", "tax", "done", "いいえ", "2019-04-01")
    loose = ConversationState.from_json(owner.state.to_json())
    assert loose.answers["founded"] == "2019-04-01"

    owner = Owner(clock)
    owner.says("やまだ商店", "北海道", "tax", "done", "いいえ", "back")
    data = owner.state.to_json()
    assert isinstance(data["answers"], dict)
    data["answers"]["founded"] = "2019-04-01"  # as a database hands it back
    state, reply = answer(FLOW, ConversationState.from_json(data), "いいえ", clock.now())
    assert reply.question_key == "founded"
    assert state.answers["founded"] == date(2019, 4, 1)
    assert reply.default == date(2019, 4, 1)
