"""Neutral messages rendered for LINE, checked against LINE's own OpenAPI description."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from linebot.v3.messaging import PushMessageRequest

from bots.line.render import render_line
from bots.slack.render import render_slack
from core.i18n import Catalog, Text
from core.messages import Action, Card, DatePicker, OutgoingMessage, PickerMode
from integrations.standins.openapi import line_spec

USER = "U" + "0" * 32


def verbatim(value: str) -> Text:
    return Text("common.verbatim", value=value)


def rich_message() -> OutgoingMessage:
    return OutgoingMessage(
        texts=(verbatim("ご相談ありがとうございます。"), verbatim("日時をお選びください。")),
        choices=tuple(
            Action(verbatim(f"選択肢その{i}はとても長いラベルです"), f"choice:{i}")
            for i in range(5)
        ),
        card=Card(
            title=verbatim("予約の確認"),
            rows=(
                (verbatim("日時"), verbatim("6月3日 10:00")),
                (verbatim("場所"), verbatim("本部")),
            ),
            actions=(Action(verbatim("確定"), "confirm"), Action(verbatim("変更"), "change")),
        ),
        picker=DatePicker(
            verbatim("日時を選ぶ"),
            "pick:slot",
            mode=PickerMode.datetime,
            initial=datetime(2026, 6, 3, 1, 0, tzinfo=UTC),
            earliest=datetime(2026, 6, 2, 0, 0, tzinfo=UTC),
            latest=datetime(2026, 7, 2, 14, 59, tzinfo=UTC),
        ),
        allow_back=True,
        allow_cancel=True,
    )


def problems(messages: list[dict[str, Any]]) -> list[str]:
    spec = line_spec()
    body = {"to": USER, "messages": messages}
    return [
        f"{d.property}: {d.message}"
        for d in spec.validate_body("POST", "/v2/bot/message/push", body)
    ]


def test_rich_message_is_valid_line() -> None:
    messages = render_line(rich_message(), "ja", Catalog.load())
    assert problems(messages) == []
    assert [m["type"] for m in messages] == ["text", "text", "flex"]
    assert "quickReply" not in messages[0]
    items = messages[-1]["quickReply"]["items"]
    assert len(items) == 1 + 5 + 2
    picker = items[0]["action"]
    assert picker == {
        "type": "datetimepicker",
        "label": "日時を選ぶ",
        "data": "pick:slot",
        "mode": "datetime",
        "initial": "2026-06-03T10:00",  # Japan time, no zone
        "min": "2026-06-02T09:00",
        "max": "2026-07-02T23:59",
    }
    assert all(len(item["action"]["label"]) <= 20 for item in items)
    assert items[1]["action"]["displayText"] == "選択肢その0はとても長いラベルです"
    assert [item["action"]["label"] for item in items[-2:]] == ["戻る", "やめる"]
    assert [item["action"]["data"] for item in items[-2:]] == ["__back__", "__cancel__"]
    flex = messages[-1]
    assert flex["altText"] == "予約の確認"
    assert flex["contents"]["footer"]["contents"][0]["action"]["data"] == "confirm"


def test_english_labels() -> None:
    messages = render_line(rich_message(), "en", Catalog.load())
    labels = [item["action"]["label"] for item in messages[-1]["quickReply"]["items"][-2:]]
    assert labels == ["Back", "Cancel"]


def test_sdk_round_trip_keeps_the_body() -> None:
    """line-bot-sdk's models carry our dicts unchanged, so what LINE receives is what we built."""
    messages = render_line(rich_message(), "ja", Catalog.load())
    body = {"to": USER, "messages": messages}
    sent = PushMessageRequest.from_dict(body).to_dict()
    assert problems(sent["messages"]) == []
    assert sent["messages"][-1]["quickReply"] == messages[-1]["quickReply"]
    assert sent["messages"][-1]["contents"]["body"] == messages[-1]["contents"]["body"]


def test_limits_text_split_and_five_messages() -> None:
    long_text = "あ" * 12_000
    message = OutgoingMessage(texts=(verbatim(long_text), *(verbatim(f"t{i}") for i in range(6))))
    messages = render_line(message)
    assert len(messages) <= 5
    assert all(len(m["text"]) <= 5000 for m in messages)
    assert "".join(m["text"] for m in messages).startswith("あ" * 12_000)
    assert problems(messages) == []


def test_too_many_quick_replies_and_long_data_are_refused() -> None:
    many = tuple(Action(verbatim(str(i)), str(i)) for i in range(14))
    with pytest.raises(ValueError, match="quick-reply"):
        render_line(OutgoingMessage(texts=(verbatim("x"),), choices=many))
    with pytest.raises(ValueError, match="300"):
        render_line(
            OutgoingMessage(texts=(verbatim("x"),), choices=(Action(verbatim("a"), "d" * 301),))
        )


def test_date_and_time_pickers() -> None:
    for mode, expected in ((PickerMode.date, "2026-06-03"), (PickerMode.time, "10:00")):
        message = OutgoingMessage(
            texts=(verbatim("x"),),
            picker=DatePicker(
                verbatim("選ぶ"), "p", mode=mode, initial=datetime(2026, 6, 3, 1, tzinfo=UTC)
            ),
        )
        messages = render_line(message)
        assert messages[0]["quickReply"]["items"][0]["action"]["initial"] == expected
        assert problems(messages) == []


def test_slack_blocks() -> None:
    text, blocks = render_slack(rich_message(), "ja", Catalog.load())
    assert "予約の確認" in text
    assert "日時: 6月3日 10:00" in text
    types = [b["type"] for b in blocks]
    assert types == ["section", "section", "section", "section", "actions"]
    fields = blocks[3]["fields"]
    assert fields[0] == {"type": "mrkdwn", "text": "*日時*\n6月3日 10:00"}
    values = [e.get("value") for e in blocks[-1]["elements"]]
    assert values[:3] == ["confirm", "change", "choice:0"]
    assert values[-2:] == ["__back__", "__cancel__"]
    action_ids = [e["action_id"] for e in blocks[-1]["elements"]]
    assert len(set(action_ids)) == len(action_ids)
