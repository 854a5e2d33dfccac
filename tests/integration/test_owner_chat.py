"""A person behind the bot (issue 17): the owner's own words reach a CO in Slack, the CO's
answer reaches the owner in LINE.

The whole service runs against the local LINE and Slack stand-ins (the demo's world: the real
app, worker and dispatcher, a seeded SQLite database, a manual clock), and every assertion is
on what reached a phone, a Slack channel or the database.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import core.db.models as m
from core.clock import ManualClock
from core.domain.enums import CaseKind, CaseStatus, MessageDirection
from core.i18n import Catalog
from core.owners import postbacks
from integrations.standins import make_line_user_id
from integrations.standins.slack_api import SlackMessage
from yorozu.demo.story import demo_overrides
from yorozu.demo.timeline import Timeline
from yorozu.demo.world import World, find_button, jst, running_world
from yorozu.settings import load_settings

TOKYO_CHANNEL = "C0HUB13"
TAKAHASHI = "U0TAKAHASHI"  # 高橋 浩二, a CO of the Tokyo hub (demo seed)
SUZUKI = "U0SUZUKIMIS"  # 鈴木 美咲, another CO of the Tokyo hub
MONDAY_10 = jst(2026, 6, 1, 10, 0)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = load_settings(**demo_overrides(tmp_path / "chat.db"))
    clock = ManualClock(MONDAY_10)
    async with running_world(settings, clock, Timeline(Catalog.load(), "ja")) as running:
        yield running


class Owner:
    """One owner on the national account, consented, with a business in Tokyo."""

    def __init__(self, world: World, seed: str) -> None:
        self.world = world
        self.user_id = make_line_user_id(seed)
        self.phone = world.line_owner(self.user_id)

    async def join(self, *, business: str = "さくら食堂", name: str = "山本 さくら") -> None:
        await self.world.send(self.phone.follow())
        await self.world.settle()
        await self.world.send(self.phone.postback(postbacks.encode(postbacks.CONSENT_AGREE)))
        await self.world.settle()
        async with self.world.factory() as session:
            identity = await session.scalar(
                select(m.ChannelIdentity).where(m.ChannelIdentity.external_user_id == self.user_id)
            )
            assert identity is not None
            person = await session.get(m.Person, identity.person_id)
            assert person is not None
            person.display_name = name
            now = self.world.clock.now()
            shop = m.Business(
                name=business,
                name_key=business,
                prefecture_code="13",
                municipality="八王子市",
                founding_planned=False,
                created_at=now,
                updated_at=now,
            )
            session.add(shop)
            await session.flush()
            session.add(m.PersonBusiness(person_id=person.id, business_id=shop.id, role="owner"))
            await session.commit()

    async def says(self, text: str) -> None:
        await self.world.send(self.phone.text(text))
        await self.world.settle()

    async def taps(self, data: str) -> None:
        await self.world.send(self.phone.postback(data))
        await self.world.settle()

    def received(self) -> list[str]:
        """Every text that reached the owner's phone, in order (quick replies included)."""
        return [
            str(message.get("text", ""))
            for delivery in self.world.platforms.line.recorder.deliveries
            if delivery.to == self.user_id
            for message in delivery.messages
        ]


def thread(world: World, card: SlackMessage) -> list[str]:
    return [
        message.text or ""
        for message in world.platforms.slack.recorder.thread(card.channel, card.ts)
    ]


def cards(world: World, channel: str = TOKYO_CHANNEL) -> list[SlackMessage]:
    return [
        message
        for message in world.platforms.slack.recorder.messages_in(channel)
        if not message.thread_ts and find_button(message, "case.claim") is not None
    ]


async def reply_in_thread(world: World, user: str, card: SlackMessage, text: str) -> None:
    await world.send(world.slack_person(user).say(card.channel, text, thread_ts=card.ts))

    async def stored() -> bool:
        async with world.factory() as session:
            rows = await session.scalars(
                select(m.InboxEvent).where(m.InboxEvent.kind == "slack.event.message")
            )
            return any(True for _ in rows)

    await world.until(stored, "the thread message stored")
    await world.settle()


async def messages_of(world: World, case_id: int) -> list[m.CaseMessage]:
    async with world.factory() as session:
        rows = await session.scalars(
            select(m.CaseMessage).where(m.CaseMessage.case_id == case_id).order_by(m.CaseMessage.id)
        )
        return list(rows)


async def only_case(world: World) -> m.Case:
    async with world.factory() as session:
        found = list(await session.scalars(select(m.Case)))
    assert len(found) == 1, found
    return found[0]


async def test_a_question_typed_in_line_opens_an_inquiry_and_a_cos_reply_reaches_the_owner(
    world: World,
) -> None:
    owner = Owner(world, "chat-owner-1")
    await owner.join()
    joined = len(owner.received())
    await owner.says("補助金の申請書の書き方を教えてほしいのですが、相談できますか？")

    # A person will answer, and the owner is told when: it is Monday 10:00, business hours.
    (said,) = owner.received()[joined:]
    assert "メニューから" not in said
    assert "本日中を目安にお返事します" in said
    assert "東京都よろず支援拠点" in said

    case = await only_case(world)
    assert case.kind is CaseKind.INQUIRY
    assert case.status is CaseStatus.QUEUED
    (card,) = cards(world)
    assert "お問い合わせ" in str(card.blocks)
    words = thread(world, card)
    assert "山本 さくら（さくら食堂）" in words[0]
    assert "補助金の申請書の書き方を教えてほしい" in words[0]
    assert "「返信:」で始めて" in words[0]  # the rule, in the thread itself

    # A note to colleagues stays in Slack; a marked reply goes to the owner.
    before = len(owner.received())
    await reply_in_thread(world, TAKAHASHI, card, "この方は先月も来られていました")
    assert len(owner.received()) == before
    await reply_in_thread(
        world, TAKAHASHI, card, "返信: 山本さま、ご連絡ありがとうございます。\n明日お電話します。"
    )
    got = owner.received()[before:]
    assert got == [
        "【東京都よろず支援拠点 高橋 浩二】\n"
        "山本さま、ご連絡ありがとうございます。\n明日お電話します。"
    ]
    assert any("高橋 浩二 さんの返信を相談者の LINE に送りました" in t for t in thread(world, card))

    kept = await messages_of(world, case.id)
    assert [(row.direction, row.status) for row in kept] == [
        (MessageDirection.FROM_OWNER, "accepted"),
        (MessageDirection.TO_OWNER, "accepted"),
    ]
    assert kept[1].body == "山本さま、ご連絡ありがとうございます。\n明日お電話します。"


async def test_twenty_messages_in_a_burst_reach_the_thread_once_each_in_order(
    world: World,
) -> None:
    owner = Owner(world, "chat-owner-burst")
    await owner.join()
    lines = [f"{n}行目: 売上が落ちていて困っています" for n in range(1, 21)]
    for line in lines:
        await world.send(owner.phone.text(line))  # all stored before the worker runs
    await world.settle()

    (card,) = cards(world)
    relayed = [text for text in thread(world, card) if "さんからのメッセージ" in text]
    assert len(relayed) == 20
    for line, text in zip(lines, relayed, strict=True):
        assert line in text
    notices = [text for text in owner.received() if "メッセージを受け付けました" in text]
    assert len(notices) == 1  # told once, not twenty times


async def test_an_owners_words_join_their_open_case_and_reach_the_assigned_co(
    world: World,
) -> None:
    owner = Owner(world, "chat-owner-claimed")
    await owner.join()
    await owner.says("来週、店舗の件で相談したいです")
    (card,) = cards(world)
    claim = find_button(card, "case.claim")
    assert claim is not None
    await world.send_slack(
        world.slack_person(TAKAHASHI).click_in_message(card.channel, card.ts, claim)
    )
    world.clock.advance(timedelta(hours=2))  # past the quiet stretch of the first notice
    await owner.says("追加で、決算書も持っていきます")

    case = await only_case(world)
    assert case.status is CaseStatus.CLAIMED
    assert len(await messages_of(world, case.id)) == 2
    assert any("決算書も持っていきます" in t for t in thread(world, card))
    dm = world.platforms.slack.recorder.messages_in(world.platforms.slack.dm_channel_for(TAKAHASHI))
    assert any("決算書も持っていきます" in (message.text or "") for message in dm)


async def test_a_reply_at_night_waits_for_the_morning_and_the_co_is_told(world: World) -> None:
    owner = Owner(world, "chat-owner-night")
    await owner.join()
    await owner.says("資金繰りの相談をしたいです")
    (card,) = cards(world)
    await world.advance_to(jst(2026, 6, 1, 22, 30))
    before = len(owner.received())
    await reply_in_thread(world, TAKAHASHI, card, "返信: 明朝ご連絡いたします。")
    assert len(owner.received()) == before
    assert any("夜間のため 6月2日(火) 8:00 に" in t for t in thread(world, card))
    await world.advance_to(jst(2026, 6, 2, 8, 5))
    assert owner.received()[before:] == [
        "【東京都よろず支援拠点 高橋 浩二】\n明朝ご連絡いたします。"
    ]


async def test_a_reply_to_an_owner_who_blocked_the_account_is_refused_in_the_thread(
    world: World,
) -> None:
    owner = Owner(world, "chat-owner-blocked")
    await owner.join()
    await owner.says("相談したいことがあります")
    (card,) = cards(world)
    world.platforms.line.block(owner.user_id)
    await world.send(owner.phone.unfollow())
    await world.settle()
    await reply_in_thread(world, TAKAHASHI, card, "返信: ご連絡ありがとうございます。")

    notes = thread(world, card)
    assert any("送れませんでした" in t and "ブロック" in t for t in notes)
    case = await only_case(world)
    kept = await messages_of(world, case.id)
    assert kept[-1].direction is MessageDirection.TO_OWNER
    assert (kept[-1].status, kept[-1].refusal) == ("refused", "blocked")
    assert kept[-1].body == "ご連絡ありがとうございます。"  # nothing the CO wrote is lost


async def test_the_reply_button_opens_a_modal_whose_answer_reaches_the_owner(
    world: World,
) -> None:
    owner = Owner(world, "chat-owner-modal")
    await owner.join()
    await owner.says("創業の手続きについて教えてください")
    (card,) = cards(world)
    first = world.platforms.slack.recorder.thread(card.channel, card.ts)[0]
    button = find_button(first, "chat.reply")
    assert button is not None
    suzuki = world.slack_person(SUZUKI)
    view = await world.open_modal(SUZUKI, suzuki.click_in_message(first.channel, first.ts, button))
    assert view["callback_id"] == "chat.reply"
    errors = await world.submit(suzuki, view, {"text": {"type": "plain_text_input", "value": " "}})
    assert json.loads(errors)["errors"] == {"text": "本文を入力してください。"}  # nothing sent
    before = len(owner.received())
    await world.submit(
        suzuki,
        view,
        {"text": {"type": "plain_text_input", "value": "創業計画書のひな形をお送りします。"}},
    )
    assert owner.received()[before:] == [
        "【東京都よろず支援拠点 鈴木 美咲】\n創業計画書のひな形をお送りします。"
    ]


async def test_talk_to_a_person_keeps_menus_out_and_relays_a_sticker(world: World) -> None:
    owner = Owner(world, "chat-owner-talk")
    await owner.join()
    await owner.taps(postbacks.encode(postbacks.MENU_TALK))
    assert "相談員におつなぎします" in owner.received()[-1]
    await world.send(owner.phone.sticker("446", "1988"))
    await world.settle()
    said = owner.received()
    assert not any("お答えできません" in text for text in said)
    (card,) = cards(world)
    assert any("スタンプ" in t for t in thread(world, card))
    await owner.taps(postbacks.encode("chat.end"))
    assert "終了しました" in owner.received()[-1]


async def test_outside_business_hours_the_owner_is_told_the_next_business_day(
    world: World,
) -> None:
    owner = Owner(world, "chat-owner-weekend")
    await owner.join()
    await world.advance_to(jst(2026, 6, 6, 11, 0))  # Saturday
    await owner.says("週末にすみません、相談の予約について")
    assert "6月8日(月) 9:00以降" in owner.received()[-1]


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    return [str(message.get("text", "")) for message in messages]


def _now(world: World) -> datetime:
    return world.clock.now()


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_a_photo_from_the_phone_is_shown_in_the_thread(world: World) -> None:
    owner = Owner(world, "chat-owner-photo")
    await owner.join()
    await owner.says("店舗の外観です")
    photo = _png()
    world.platforms.line.add_content("500000000000000001", photo, "image/png")
    await world.send(owner.phone.image("500000000000000001"))
    await world.settle()

    (card,) = cards(world)
    shared = [
        message
        for message in world.platforms.slack.recorder.thread(card.channel, card.ts)
        if message.files
    ]
    assert len(shared) == 1
    (file,) = shared[0].files
    assert file["mimetype"] == "image/png"
    assert world.platforms.slack.file_content(file["id"]) == photo
    assert "写真が送られました" in (shared[0].text or "")
    case = await only_case(world)
    kinds = [row.content_type for row in await messages_of(world, case.id)]
    assert kinds == ["text", "image"]


async def test_what_cannot_be_shown_is_still_named_in_the_thread(world: World) -> None:
    owner = Owner(world, "chat-owner-bigfile")
    await owner.join()
    await world.send(owner.phone.file("決算書.pdf", 50 * 2**20))
    await world.settle()
    await world.send(owner.phone.image("500000000000000099"))  # LINE no longer has it
    await world.settle()
    await world.send(owner.phone.location("本店", "東京都八王子市旭町1-1", 35.655, 139.338))
    await world.settle()

    (card,) = cards(world)
    texts = thread(world, card)
    assert any("決算書.pdf" in t and "10 MB を超える" in t for t in texts)
    assert any("保存期間を過ぎた" in t for t in texts)
    assert any("東京都八王子市旭町1-1" in t for t in texts)
    assert not world.platforms.slack.recorder.calls("files.getUploadURLExternal")


async def test_the_case_view_in_app_home_shows_the_conversation(world: World) -> None:
    from bots.slack.home import render_case_modal
    from core.coordinators.home import load_case_details

    owner = Owner(world, "chat-owner-home")
    await owner.join()
    await owner.says("事業承継について相談したいです")
    (card,) = cards(world)
    await reply_in_thread(world, TAKAHASHI, card, "返信: 承知しました。来週お話を伺います。")
    case = await only_case(world)
    async with world.factory() as session:
        details = await load_case_details(session, case.id)
    view = render_case_modal(details, Catalog.load(), "ja")
    shown = str(view["blocks"])
    assert "相談者とのやりとり" in shown
    assert "*相談者*: 事業承継について相談したいです" in shown
    assert "*高橋 浩二*: 承知しました。来週お話を伺います。" in shown


async def test_a_dm_follows_the_readers_slack_language(world: World) -> None:
    """Slack texts are Japanese by default; a CO whose Slack client is in English reads
    their DMs in English (users.info locale)."""
    world.platforms.slack.add_user(TAKAHASHI, "takahashi", locale="en-US")
    owner = Owner(world, "chat-owner-english-co")
    await owner.join()
    await owner.says("相談の予約をしたいです")
    (card,) = cards(world)
    claim = find_button(card, "case.claim")
    assert claim is not None
    await world.send_slack(
        world.slack_person(TAKAHASHI).click_in_message(card.channel, card.ts, claim)
    )
    await owner.says("よろしくお願いします")
    dm = world.platforms.slack.recorder.messages_in(world.platforms.slack.dm_channel_for(TAKAHASHI))
    relayed = [m.text or "" for m in dm if "よろしくお願いします" in (m.text or "")]
    assert relayed
    assert relayed[-1].startswith("A message from")
    # The card's thread, read by the whole hub, stays in Japanese.
    assert any("さんからのメッセージ" in t and "よろしく" in t for t in thread(world, card))
