"""Rich menu deploy and per-user linking against the LINE stand-in on a real local port.

The stand-in applies LINE's checks (schema, image type, size equal to the menu's, ≤1 MB), so
a deploy it accepts is one LINE would accept.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bots.line import richmenu as line_richmenu
from bots.line.richmenu import RenderedMenu, build_menus
from core.clock import ManualClock
from core.owners.richmenus import BEFORE_CONSENT, BOOKED, DEFAULT_MENU, MENUS, REGISTERED
from integrations.line.richmenu_client import RichMenuClient
from integrations.standins import LineApiStandin, ServerThread, create_line_api, make_line_user_id
from tests.support import missing

TOKEN = "richmenu-test-token"
CHANNEL_ID = "2000000001"
ALICE = make_line_user_id("alice")
PRIVACY = "https://hub.example.jp/privacy/"


class SwappableApp:
    """One server for the module; each test gets a fresh stand-in behind it."""

    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.target(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ServerThread, SwappableApp]]:
    app = SwappableApp()
    with ServerThread(app) as running:
        yield running, app


@pytest.fixture
def line(server: tuple[ServerThread, SwappableApp]) -> LineApiStandin:
    standin = create_line_api({TOKEN: CHANNEL_ID})
    server[1].target = standin.app
    return standin


@pytest.fixture
def url(server: tuple[ServerThread, SwappableApp], line: LineApiStandin) -> str:
    return server[0].url


@pytest.fixture(scope="module")
def japanese_font() -> None:
    """Drawing the menus needs a Japanese font (CI installs fonts-ipaexfont-gothic)."""
    try:
        line_richmenu.find_font()
    except line_richmenu.FontNotFoundError as exc:
        missing("a Japanese font", exc)


@pytest.fixture(scope="module")
def menus(japanese_font: None) -> list[RenderedMenu]:
    return build_menus(links={"privacy": PRIVACY})


@pytest.fixture(scope="module")
def english_menus(japanese_font: None) -> list[RenderedMenu]:
    return build_menus(links={"privacy": PRIVACY}, locale="en")


@pytest.fixture
async def client(url: str) -> AsyncIterator[RichMenuClient]:
    # The same stand-in answers for api.line.me and api-data.line.me.
    async with RichMenuClient(TOKEN, base_url=url, data_base_url=url) as rich_menus:
        yield rich_menus


async def aliases(url: str) -> dict[str, str]:
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as http:
        body = (await http.get("/v2/bot/richmenu/alias/list")).json()
    return {a["richMenuAliasId"]: a["richMenuId"] for a in body["aliases"]}


def creations(line: LineApiStandin) -> int:
    return sum(1 for r in line.recorder.requests_to("/v2/bot/richmenu", "POST") if r.status == 200)


# -- the images ------------------------------------------------------------------------------


@pytest.mark.parametrize("menu_id", [BEFORE_CONSENT, REGISTERED, BOOKED])
def test_generated_image_is_a_png_of_the_menus_size_within_1_mb(
    menus: list[RenderedMenu], menu_id: str
) -> None:
    menu = next(m for m in menus if m.menu_id == menu_id)
    with Image.open(io.BytesIO(menu.image)) as image:
        assert image.format == "PNG"
        assert image.size == line_richmenu.menu_size(MENUS[menu_id])
        assert image.size == (menu.request["size"]["width"], menu.request["size"]["height"])
    assert len(menu.image) <= 1024 * 1024


def test_the_same_definition_gives_the_same_name_so_redeploys_can_reuse(
    menus: list[RenderedMenu],
) -> None:
    again = build_menus(links={"privacy": PRIVACY}, menus=[MENUS[REGISTERED]])
    assert again[0].name == next(m.name for m in menus if m.menu_id == REGISTERED)
    assert again[0].image == next(m.image for m in menus if m.menu_id == REGISTERED)


def test_a_missing_japanese_font_names_the_package_to_install(tmp_path: Path) -> None:
    nowhere = (str(tmp_path / "none.ttf"),)
    with pytest.raises(line_richmenu.FontNotFoundError, match="fonts-ipaexfont-gothic"):
        line_richmenu.find_font(candidates=nowhere, use_fontconfig=False)
    with pytest.raises(line_richmenu.FontNotFoundError, match="RICH_MENU_FONT"):
        line_richmenu.find_font(tmp_path / "missing.otf")


# -- deploy ----------------------------------------------------------------------------------


async def test_deploy_creates_the_three_menus_with_images_and_sets_the_default(
    client: RichMenuClient,
    line: LineApiStandin,
    menus: list[RenderedMenu],
    url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # At INFO, as `yorozu line rich-menu deploy` logs: its summary once collided with
    # LogRecord's own attributes and failed the command after the menus were live.
    caplog.set_level(logging.INFO, logger="integrations.line.richmenu_client")
    result = await client.deploy(menus, default=DEFAULT_MENU)
    assert any(r.getMessage() == "rich menus deployed" for r in caplog.records)

    assert set(result.ids) == {BEFORE_CONSENT, REGISTERED, BOOKED}
    assert sorted(line.rich_menu_ids()) == sorted(result.ids.values())
    for menu in menus:
        stored = line.rich_menu(result.ids[menu.menu_id])
        assert stored is not None
        assert stored["name"] == menu.name
        assert line.rich_menu_image(result.ids[menu.menu_id]) == menu.image
    assert line.rich_menu_for(ALICE) == result.ids[REGISTERED]  # the default
    assert await aliases(url) == {m.alias: result.ids[m.menu_id] for m in menus}
    uploads = line.recorder.requests_to(f"/v2/bot/richmenu/{result.ids[REGISTERED]}/content")
    assert [r.status for r in uploads] == [200]


async def test_redeploying_unchanged_menus_reuses_them(
    client: RichMenuClient, line: LineApiStandin, menus: list[RenderedMenu], url: str
) -> None:
    first = await client.deploy(menus, default=DEFAULT_MENU)
    await client.link_user(ALICE, first.ids[BOOKED])

    second = await client.deploy(menus, default=DEFAULT_MENU)

    assert second.ids == first.ids
    assert second.created == []
    assert second.deleted == []
    assert second.replaced == {}
    assert creations(line) == 3
    assert line.rich_menu_for(ALICE) == first.ids[BOOKED]  # the per-user link survives


async def test_redeploying_changed_menus_replaces_them_and_leaves_nothing_stale(
    client: RichMenuClient,
    line: LineApiStandin,
    menus: list[RenderedMenu],
    english_menus: list[RenderedMenu],
    url: str,
) -> None:
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as http:
        by_hand = menus[1].request | {"name": "made in the console"}
        handmade = (await http.post("/v2/bot/richmenu", json=by_hand)).json()["richMenuId"]
    first = await client.deploy(menus, default=DEFAULT_MENU)

    second = await client.deploy(english_menus, default=DEFAULT_MENU)

    assert set(second.ids.values()).isdisjoint(first.ids.values())
    assert sorted(second.deleted) == sorted(first.ids.values())
    assert second.replaced == first.ids
    assert sorted(line.rich_menu_ids()) == sorted([*second.ids.values(), handmade])
    assert line.rich_menu_for(ALICE) == second.ids[REGISTERED]
    assert await aliases(url) == {m.alias: second.ids[m.menu_id] for m in english_menus}


async def test_a_deploy_interrupted_before_the_upload_is_completed_next_time(
    client: RichMenuClient, line: LineApiStandin, menus: list[RenderedMenu], url: str
) -> None:
    registered = next(m for m in menus if m.menu_id == REGISTERED)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as http:
        orphan = (await http.post("/v2/bot/richmenu", json=registered.request)).json()["richMenuId"]

    result = await client.deploy(menus, default=DEFAULT_MENU)

    assert result.ids[REGISTERED] == orphan
    assert line.rich_menu_image(orphan) == registered.image
    assert line.rich_menu_for(ALICE) == orphan


# -- per user --------------------------------------------------------------------------------


async def test_link_user_shows_that_person_their_menu_at_once(
    client: RichMenuClient, line: LineApiStandin, menus: list[RenderedMenu]
) -> None:
    ids = (await client.deploy(menus, default=DEFAULT_MENU)).ids
    bob = make_line_user_id("bob")

    outcome = await client.link_user(ALICE, ids[BEFORE_CONSENT])
    assert outcome.succeeded
    assert line.rich_menu_for(ALICE) == ids[BEFORE_CONSENT]
    assert line.rich_menu_for(bob) == ids[REGISTERED]

    assert (await client.link_user(ALICE, ids[BOOKED])).succeeded
    assert line.rich_menu_for(ALICE) == ids[BOOKED]

    bulk = await client.link_users([ALICE, bob], ids[REGISTERED])
    assert all(o.succeeded for o in bulk)
    assert line.rich_menu_for(bob) == ids[REGISTERED]

    assert (await client.unlink_user(ALICE)).succeeded
    assert line.rich_menu_for(ALICE) == ids[REGISTERED]


async def test_link_user_to_a_deleted_menu_is_a_permanent_failure(
    client: RichMenuClient, line: LineApiStandin
) -> None:
    outcome = await client.link_user(ALICE, "richmenu-" + "0" * 32)
    assert not outcome.succeeded
    assert outcome.status == 404


async def test_link_user_without_a_server_is_a_transient_failure() -> None:
    async with RichMenuClient(
        TOKEN, base_url="http://127.0.0.1:9", data_base_url="http://127.0.0.1:9", timeout=2
    ) as unreachable:
        outcome = await unreachable.link_user(ALICE, "richmenu-" + "0" * 32)
    assert outcome.status is None


# -- the CLI's deploy, recorded where the service finds it -------------------------------------


async def test_cli_deploy_records_the_ids_for_the_service(
    japanese_font: None,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    line: LineApiStandin,
    url: str,
    tmp_path: Path,
) -> None:
    from core.db.models.richmenus import deployed_menu_ids
    from yorozu.bootstrap import Container
    from yorozu.cli_line import deploy_rich_menus, preview_rich_menus
    from yorozu.settings import load_settings

    settings = load_settings(
        line_api_base_url=url,
        line_data_api_base_url=url,
        line_channel_access_token=TOKEN,
    )
    container = Container(
        settings=settings, clock=clock, engine=engine, session_factory=session_factory
    )

    result = await deploy_rich_menus(container)
    again = await deploy_rich_menus(container)

    assert again.ids == result.ids
    async with session_factory() as session:
        assert await deployed_menu_ids(session, "default") == result.ids
        assert await deployed_menu_ids(session, "13") == {}
    assert line.rich_menu_for(ALICE) == result.ids[REGISTERED]

    written = preview_rich_menus(settings, tmp_path / "preview")
    assert sorted(p.name for p in written) == [
        "richmenu-before_consent.png",
        "richmenu-booked.png",
        "richmenu-registered.png",
    ]
    with Image.open(written[0]) as image:
        assert image.width == 2500
