"""Each workspace with its own token; uninstalling really ends access (issue 18, section 2).

Two workspaces, each with a hub, installed through slack_sdk's SQLAlchemy store over our
database (tables from migration 0007); the Slack stand-in knows each workspace's token and
records which one every call used. The dispatcher resolves tokens through Bolt's
AsyncInstallationStoreAuthorize, as in production.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bots.slack.deps import WorkContext
from bots.slack.workspaces import app_uninstalled, tokens_revoked
from core.clock import ManualClock
from core.db.models import Hub, OutboxMessage
from core.db.session import unit_of_work
from core.domain.enums import OutboxStatus, Platform
from core.i18n import Text
from core.messages import OutgoingMessage
from core.outbox import store
from core.workspaces import DISCONNECTED, NOT_INSTALLED, disconnected_hub_codes
from integrations.standins import ServerThread, SlackApiStandin, create_slack_api, make_slack_id
from tests.support import drain_outbox, outbox_row
from yorozu.bootstrap import Container
from yorozu.dispatcher import Dispatcher
from yorozu.seed import seed
from yorozu.settings import DEV_SLACK_BOT_TOKEN, load_settings
from yorozu.slack_tokens import WorkspaceInstallationStore

Factory = async_sessionmaker[AsyncSession]
CLIENT_ID, CLIENT_SECRET = "111.222", "oauth-client-secret"
TEAM_A, TEAM_B, TEAM_C = "T0WORKSPA1", "T0WORKSPB1", "T0WORKSPC1"
TOKEN_A, TOKEN_B = "xoxb-workspace-a", "xoxb-workspace-b"
CHANNEL = {code: make_slack_id("C", f"intake-{code}") for code in ("13", "27", "40", "00")}
HUB_TEAM = {"13": TEAM_A, "27": TEAM_B, "40": TEAM_C}


@pytest.fixture
def slack_api(clock: ManualClock) -> SlackApiStandin:
    # The configured bot token is the operator's own workspace (HQ, hubs with no team).
    standin = create_slack_api([DEV_SLACK_BOT_TOKEN], clock=clock.now)
    standin.add_workspace_token(TOKEN_A, TEAM_A)
    standin.add_workspace_token(TOKEN_B, TEAM_B)
    standin.add_oauth_client(CLIENT_ID, CLIENT_SECRET)
    for code, channel in CHANNEL.items():
        standin.add_channel(channel, f"intake-{code}")
    return standin


@pytest.fixture
def slack_server(slack_api: SlackApiStandin) -> Iterator[ServerThread]:
    with ServerThread(slack_api.app) as server:
        yield server


@pytest.fixture
async def hubs(session_factory: Factory, clock: ManualClock) -> dict[str, int]:
    async with unit_of_work(session_factory) as session:
        await seed(session, clock=clock)
        found = {}
        for hub in await session.scalars(select(Hub).where(Hub.code.in_(list(CHANNEL)))):
            hub.slack_intake_channel_id = CHANNEL[hub.code]
            hub.slack_team_id = HUB_TEAM.get(hub.code)
            found[hub.code] = hub.id
    return found


@pytest.fixture
def installations(
    engine: AsyncEngine, session_factory: Factory, clock: ManualClock
) -> WorkspaceInstallationStore:
    return WorkspaceInstallationStore(
        CLIENT_ID, engine, session_factory=session_factory, clock=clock
    )


async def install(
    installations: WorkspaceInstallationStore, team: str, token: str, **bot: object
) -> None:
    await installations.async_save(
        Installation(
            app_id="A0STANDIN1",
            team_id=team,
            bot_token=token,
            bot_id="B0STANDBOT",
            bot_user_id="U0STANDBOT",
            bot_scopes="chat:write,channels:history",
            user_id="U0INSTALLR",
            installed_at=time.time(),
            **bot,  # type: ignore[arg-type]
        )
    )


@pytest.fixture
async def dispatcher(
    engine: AsyncEngine,
    session_factory: Factory,
    clock: ManualClock,
    database_url: str,
    slack_server: ServerThread,
    hubs: dict[str, int],
    installations: WorkspaceInstallationStore,
) -> AsyncIterator[Dispatcher]:
    await install(installations, TEAM_A, TOKEN_A)
    await install(installations, TEAM_B, TOKEN_B)
    settings = load_settings(
        database_url=database_url,
        slack_api_base_url=slack_server.url + "/api/",
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
    )
    container = Container(
        settings=settings, clock=clock, engine=engine, session_factory=session_factory
    )
    d = Dispatcher(container, rng=random.Random(3))
    try:
        yield d
    finally:
        await d.aclose()


async def post(
    factory: Factory, clock: ManualClock, hubs: dict[str, int], code: str, n: int
) -> int:
    async with unit_of_work(factory) as session:
        row = await store.add_message(
            session,
            platform=Platform.SLACK,
            channel_id="default",
            recipient=CHANNEL[code],
            message=OutgoingMessage(texts=(Text("common.verbatim", value=f"{code}-{n}"),)),
            kind="slack_message",
            idempotency_key=f"ws:{code}:{n}",
            now=clock.now(),
            hub_id=hubs[code],
        )
        assert row is not None
        return row


async def drain(dispatcher: Dispatcher, factory: Factory, clock: ManualClock) -> None:
    await drain_outbox(dispatcher, factory, clock, step=timedelta(seconds=5))


def tokens_used(slack_api: SlackApiStandin, channel: str) -> set[str | None]:
    return {
        call.token
        for call in slack_api.recorder.calls("chat.postMessage")
        if call.args.get("channel") == channel
    }


async def uninstall(factory: Factory, clock: ManualClock, team: str) -> None:
    async with unit_of_work(factory) as session:
        await app_uninstalled(
            session,
            {"team_id": team, "event": {"type": "app_uninstalled"}},
            WorkContext(now=clock.now()),
        )


async def test_each_hub_posts_with_its_workspace_token(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    hubs: dict[str, int],
    slack_api: SlackApiStandin,
) -> None:
    for n in range(3):
        await post(session_factory, clock, hubs, "13", n)
        await post(session_factory, clock, hubs, "27", n)
    await drain(dispatcher, session_factory, clock)
    assert len(slack_api.recorder.messages_in(CHANNEL["13"])) == 3
    assert len(slack_api.recorder.messages_in(CHANNEL["27"])) == 3
    assert tokens_used(slack_api, CHANNEL["13"]) == {TOKEN_A}
    assert tokens_used(slack_api, CHANNEL["27"]) == {TOKEN_B}


async def test_uninstall_holds_that_workspace_and_a_reinstall_releases_it(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    hubs: dict[str, int],
    slack_api: SlackApiStandin,
    installations: WorkspaceInstallationStore,
) -> None:
    waiting = await post(session_factory, clock, hubs, "13", 0)
    await uninstall(session_factory, clock, TEAM_A)
    assert await installations.async_find_bot(enterprise_id=None, team_id=TEAM_A) is None
    assert (await outbox_row(session_factory, waiting)).status is OutboxStatus.HELD
    later = await post(session_factory, clock, hubs, "13", 1)
    other = await post(session_factory, clock, hubs, "27", 1)
    await drain(dispatcher, session_factory, clock)
    for row_id in (waiting, later):
        held = await outbox_row(session_factory, row_id)
        assert (held.status, held.last_error) == (OutboxStatus.HELD, DISCONNECTED)
    assert (await outbox_row(session_factory, other)).status is OutboxStatus.SENT
    assert not slack_api.recorder.messages_in(CHANNEL["13"])
    async with session_factory() as session:
        assert await disconnected_hub_codes(session) == ["13"]
        told = await session.scalars(
            select(OutboxMessage.recipient).where(
                OutboxMessage.idempotency_key.like("slack:disconnected:%")
            )
        )
        assert set(told) == {CHANNEL["13"], CHANNEL["00"]}  # the hub's and HQ's (no CCOs)

    new_token = "xoxb-workspace-a-again"
    slack_api.add_workspace_token(new_token, TEAM_A)
    await install(installations, TEAM_A, new_token)  # the OAuth callback saves it
    await drain(dispatcher, session_factory, clock)
    for row_id in (waiting, later):
        assert (await outbox_row(session_factory, row_id)).status is OutboxStatus.SENT
    assert tokens_used(slack_api, CHANNEL["13"]) == {new_token}
    async with session_factory() as session:
        assert await disconnected_hub_codes(session) == []


async def test_revoked_bot_tokens_disconnect_too_and_user_tokens_alone_do_not(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    hubs: dict[str, int],
    installations: WorkspaceInstallationStore,
) -> None:
    async with unit_of_work(session_factory) as session:
        await tokens_revoked(
            session,
            {"team_id": TEAM_B, "event": {"type": "tokens_revoked", "tokens": {"oauth": ["U1"]}}},
            WorkContext(now=clock.now()),
        )
        assert await disconnected_hub_codes(session) == []
    async with unit_of_work(session_factory) as session:
        await tokens_revoked(
            session,
            {
                "team_id": TEAM_B,
                "event": {"type": "tokens_revoked", "tokens": {"bot": ["U0STANDBOT"]}},
            },
            WorkContext(now=clock.now()),
        )
        assert await disconnected_hub_codes(session) == ["27"]
    assert await installations.async_find_bot(enterprise_id=None, team_id=TEAM_B) is None


async def test_a_workspace_never_installed_fails_not_installed_and_hq_is_told(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    hubs: dict[str, int],
    slack_api: SlackApiStandin,
) -> None:
    row_id = await post(session_factory, clock, hubs, "40", 0)
    await post(session_factory, clock, hubs, "40", 1)
    await drain(dispatcher, session_factory, clock)
    failed = await outbox_row(session_factory, row_id)
    assert (failed.status, failed.last_error) == (OutboxStatus.FAILED, NOT_INSTALLED)
    assert not slack_api.recorder.messages_in(CHANNEL["40"])
    async with session_factory() as session:
        notices = list(
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.idempotency_key.like("slack:not_installed:%")
                )
            )
        )
    # One notice a day per hub and target, however many messages failed: HQ's went out.
    assert {n.recipient for n in notices} == {CHANNEL["40"], CHANNEL["00"]}
    [told] = slack_api.recorder.messages_in(CHANNEL["00"])
    assert "40" in (told.text or "")
    assert tokens_used(slack_api, CHANNEL["00"]) == {DEV_SLACK_BOT_TOKEN}


async def test_an_expiring_token_is_rotated_with_its_refresh_token(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    hubs: dict[str, int],
    slack_api: SlackApiStandin,
    installations: WorkspaceInstallationStore,
) -> None:
    slack_api.add_refresh_token("xoxe-1-first", CLIENT_ID, TEAM_A)
    await install(
        installations,
        TEAM_A,
        "xoxe.xoxb-expiring",
        bot_refresh_token="xoxe-1-first",
        bot_token_expires_at=int(time.time()) + 60,  # within the rotation window
    )
    await post(session_factory, clock, hubs, "13", 0)
    await drain(dispatcher, session_factory, clock)
    [used] = tokens_used(slack_api, CHANNEL["13"])
    assert used is not None
    assert used.startswith("xoxe.xoxb-T0WORKSPA1-")
    bot = await installations.async_find_bot(enterprise_id=None, team_id=TEAM_A)
    assert bot is not None
    assert bot.bot_token == used
    assert bot.bot_refresh_token != "xoxe-1-first"


async def test_no_token_text_or_user_id_reaches_the_logs(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    hubs: dict[str, int],
    slack_api: SlackApiStandin,
    installations: WorkspaceInstallationStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    slack_api.lose_answers(1.0, "drop")
    await post(session_factory, clock, hubs, "13", 0)  # lost, then found by the look-up
    await dispatcher.run_once()
    slack_api.clear_faults()
    await post(session_factory, clock, hubs, "40", 0)  # not installed
    await drain(dispatcher, session_factory, clock)
    await uninstall(session_factory, clock, TEAM_B)
    await post(session_factory, clock, hubs, "27", 0)  # held
    await drain(dispatcher, session_factory, clock)
    await install(installations, TEAM_B, TOKEN_B)
    await drain(dispatcher, session_factory, clock)
    assert "Slack post found in the channel" in caplog.text
    for secret in ("xoxb", "xoxe", CLIENT_SECRET, "13-0", "40-0", "27-0", "U0INSTALLR"):
        assert secret not in caplog.text
