"""The emulator in a real browser: an owner books on the phone, a CO claims it in Slack, and
a person is behind the bot: the owner's own question reaches the case's thread, and the CO's
answer, written in the thread, reaches the phone under the CO's name.

`yorozu serve` runs as a real process on a fresh SQLite file, with the emulator on as in the
embedded development default; headless Chromium (Debian's package, driven by Playwright)
opens the page and uses it as a person would: it follows the account, consents, answers the
intake, takes the first offered slot, sees the confirmation card, then switches to the Slack
pane as 高橋 浩二 (a CO of the Tokyo hub) and claims the new case from its card. The owner then
types a question; 高橋さん reads it in the card's thread and answers there with 「返信:」, and
a photo sent from the phone appears in the thread.
A screenshot of the end state is kept in test-artifacts/ for people to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import missing

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        missing("Debian's chromium (apt-get install chromium; .ci/run installs it)", OSError())
    assert found is not None
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`yorozu serve` as operators start it, with the emulator's defaults."""
    workdir = tmp_path_factory.mktemp("emulator")
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LINE_", "SLACK_", "EMULATOR_", "DATABASE_", "REDIS_", "YOROZU_"))
    }
    env.update(
        YOROZU_ENV="development",
        DATABASE_URL=f"sqlite:///{workdir}/yorozu.db",
        LOG_LEVEL="WARNING",
        DISPATCH_POLL_SECONDS="0.1",
    )
    log = (workdir / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "yorozu.cli", "serve", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # waiting for a process to start listening, not for service time
            try:
                if httpx.get(base + "/emulator/api/config", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((workdir / "serve.log").read_text()[-3000:])
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def test_an_owner_books_on_the_phone_and_a_co_claims_it_in_slack(service: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="ja-JP")
            page.set_default_timeout(TIMEOUT_MS)
            sync_api.expect.set_options(timeout=TIMEOUT_MS)
            try:
                _story(page, sync_api.expect, service)
            finally:
                page.screenshot(path=str(ARTIFACTS / "emulator.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "emulator.png").stat().st_size > 10_000


def owner_asks_for_a_consultation(page, expect, service: str):  # type: ignore[no-untyped-def]
    """On the phone: follow, consent, the whole intake, up to the offered slots; answers the
    locator of the bot's bubbles."""
    page.goto(service + "/emulator")
    bot = page.get_by_test_id("line-bubble-bot")

    def said(text: str) -> None:
        expect(bot.filter(has_text=text).last).to_be_visible()

    def tap(label: str) -> None:
        chips = page.get_by_test_id("line-quick-reply").filter(has_text=label)
        expect(chips.first).to_be_visible()
        chips.first.click()

    def answer(text: str, then: str) -> None:
        before = bot.count()
        page.get_by_test_id("line-input").fill(text)
        page.get_by_test_id("line-send").click()
        expect(bot).not_to_have_count(before)
        said(then)

    # The owner adds the account: greeting and privacy notice, then consent.
    page.get_by_test_id("line-follow").click()
    said("友だち追加ありがとうございます")
    tap("同意する")
    said("ご同意ありがとうございます")

    # 相談を予約する from the rich menu starts the intake.
    menu = page.get_by_test_id("line-richmenu-area").filter(has_text="相談を予約する")
    if not menu.first.is_visible():
        page.get_by_test_id("line-richmenu-toggle").click()
    menu.first.click()
    said("事業者名（会社名・屋号）を教えてください")
    answer("さくら商店", "お名前")
    answer("山田 花子", "都道府県")
    answer("東京", "市区町村")
    answer("渋谷区", "業種")
    tap("小売")
    said("従業員")
    answer("3人", "創業")
    answer("令和5年4月", "ご相談になりたい内容")
    tap("売上拡大")
    tap("完了")
    said("ご相談の内容を具体的に")
    answer("新商品の販路を広げたい", "ご相談の方法")
    tap("来所")
    said("受付番号")
    return bot


def _story(page, expect, service: str) -> None:  # type: ignore[no-untyped-def]
    bot = owner_asks_for_a_consultation(page, expect, service)

    def said(text: str) -> None:
        expect(bot.filter(has_text=text).last).to_be_visible()

    # While the owner looks at the offered slots, 高橋 浩二 (a CO of the Tokyo hub) takes
    # the new case from its card in the hub's intake channel.
    page.get_by_test_id("slack-persona").select_option("U0TAKAHASHI")
    page.get_by_test_id("slack-channel-C0HUB13").click()
    card = page.get_by_test_id("slack-message").filter(has_text="新規相談").last
    expect(card).to_contain_text("さくら商店")
    card.get_by_test_id("slack-button").filter(has_text="担当する").click()
    expect(card).to_contain_text("高橋 浩二")
    expect(card.get_by_test_id("slack-button").filter(has_text="担当する")).to_have_count(0)

    # The owner taps the first offered slot. If it was another CO's, the service now offers
    # 高橋さん's own hours instead; the owner takes the first of those.
    def first_slot() -> None:
        before = bot.count()
        slots = page.get_by_test_id("line-quick-reply").filter(has_text=re.compile(r"\d+:\d\d"))
        slots.first.click()
        expect(bot).not_to_have_count(before)

    first_slot()
    if bot.filter(has_text="ご予約を承りました").count() == 0:
        first_slot()
    said("ご予約を承りました")
    confirmation = bot.filter(has_text="高橋 浩二").last
    expect(confirmation).to_be_visible()
    expect(confirmation).to_contain_text("予約を変更")
    expect(confirmation).to_contain_text("13-2026-")
    # ...and the card in Slack now carries the date.
    expect(card).to_contain_text("相談日時")
    expect(card).to_contain_text("（来所）")

    # The owner types a question of their own: no menu hint, a person will answer.
    before = bot.count()
    page.get_by_test_id("line-input").fill("当日は駐車場を使えますか？")
    page.get_by_test_id("line-send").click()
    expect(bot).not_to_have_count(before)
    said("メッセージを受け付けました")
    expect(bot.last).not_to_contain_text("メニューから")

    # 高橋さん sees it in the card's thread and answers there; the thread says the rule.
    question = page.get_by_test_id("slack-message").filter(has_text="当日は駐車場を使えますか")
    expect(question.last).to_contain_text("「返信:」で始めて")
    card.get_by_test_id("slack-reply-in-thread").click()
    expect(page.get_by_test_id("slack-thread-target")).to_be_visible()
    page.get_by_test_id("slack-command-input").fill(
        "返信: 2台分ございます。お気をつけてお越しください。"
    )
    page.get_by_test_id("slack-command-send").click()
    notes = page.get_by_test_id("slack-message")
    expect(notes.filter(has_text="2台分ございます").first).to_be_visible()
    sent = notes.filter(has_text=re.compile("相談者の LINE に送りました|夜間のため"))
    expect(sent.last).to_be_visible()
    if "夜間のため" in (sent.last.text_content() or ""):
        # Quiet hours hold the answer until the window opens: move the clock to 09:00.
        page.get_by_test_id("clock-advance-next9").click()
    answer = bot.filter(has_text="【東京都よろず支援拠点 高橋 浩二】")
    expect(answer.last).to_contain_text("2台分ございます")

    # A photo from the phone is fetched from LINE and shown in the same thread.
    page.get_by_test_id("line-photo").click()
    photo = page.get_by_test_id("slack-file-image")
    expect(photo.first).to_be_visible()
    assert photo.first.evaluate("image => image.naturalWidth") == 480
