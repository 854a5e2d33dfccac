"""`yorozu line rich-menu deploy|preview`: the rich menus, from their definition to LINE.

The commands only translate arguments; `deploy_rich_menus` and `preview_rich_menus` are what
the tests call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from bots.line.richmenu import RenderedMenu, build_menus
from core.db.models.richmenus import record_deployment
from core.db.session import unit_of_work
from core.owners.richmenus import DEFAULT_MENU, PRIVACY_LINK
from integrations.line.richmenu_client import DeployResult, RichMenuClient, RichMenuDeployError
from yorozu.bootstrap import Container, bootstrap
from yorozu.channels import DEFAULT_CHANNEL, channel_access_token
from yorozu.settings import Settings, settings_for_command

line_app = typer.Typer(help="LINE official account tools.", no_args_is_help=True)
rich_menu_app = typer.Typer(help="The rich menus under the chat.", no_args_is_help=True)
line_app.add_typer(rich_menu_app, name="rich-menu")

ClientFactory = Callable[[str], RichMenuClient]


def _settings() -> Settings:
    return settings_for_command()


def render_menus(settings: Settings, *, locale: str = "ja") -> list[RenderedMenu]:
    return build_menus(
        links={PRIVACY_LINK: str(settings.privacy_notice_url)},
        locale=locale,
        font_path=settings.rich_menu_font,
    )


async def deploy_rich_menus(
    container: Container,
    *,
    channel_key: str = DEFAULT_CHANNEL,
    locale: str = "ja",
    client_factory: ClientFactory | None = None,
) -> DeployResult:
    """Render, deploy and record the menus of one channel (safe to repeat)."""
    settings = container.settings
    menus = render_menus(settings, locale=locale)
    token = await channel_access_token(container, channel_key)
    factory = client_factory or (
        lambda access_token: RichMenuClient(
            access_token,
            base_url=str(settings.line_api_base_url),
            data_base_url=str(settings.line_data_api_base_url),
        )
    )
    async with factory(token) as client:
        result = await client.deploy(menus, default=DEFAULT_MENU)
    async with unit_of_work(container.session_factory) as session:
        await record_deployment(session, channel_key, result.ids, now=container.clock.now())
    return result


def preview_rich_menus(settings: Settings, out: Path, *, locale: str = "ja") -> list[Path]:
    """Write each menu's PNG (richmenu-<id>.png) so a person can look before deploying."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for menu in render_menus(settings, locale=locale):
        path = out / f"richmenu-{menu.menu_id}.png"
        path.write_bytes(menu.image)
        written.append(path)
    return written


Channel = Annotated[
    str, typer.Option(help='"default" (LINE_CHANNEL_ACCESS_TOKEN) or a hub code such as 13.')
]
Locale = Annotated[str, typer.Option(help="Language of the labels: ja or en.")]


@rich_menu_app.command("deploy")
def deploy(channel: Channel = DEFAULT_CHANNEL, locale: Locale = "ja") -> None:
    """Create the menus with their images, set the default, delete the ones they replace."""
    settings = _settings()

    async def main() -> DeployResult:
        container = await bootstrap(settings)
        try:
            return await deploy_rich_menus(container, channel_key=channel, locale=locale)
        finally:
            await container.aclose()

    try:
        result = asyncio.run(main())
    except (RichMenuDeployError, LookupError) as exc:
        typer.echo(f"rich menu deploy failed: {exc}", err=True)
        raise typer.Exit(code=1) from None
    for menu_id, rich_menu_id in result.ids.items():
        state = "created" if menu_id in result.created else "unchanged"
        typer.echo(f"{menu_id}\t{rich_menu_id}\t{state}")
    typer.echo(f"default: {DEFAULT_MENU}; deleted {len(result.deleted)} old menu(s)")
    if result.replaced:
        typer.echo(
            "changed menus: " + ", ".join(sorted(result.replaced)) + " – people linked to the "
            "old ones see the default menu until they are linked again",
            err=True,
        )


@rich_menu_app.command("preview")
def preview(
    out: Annotated[Path, typer.Option(help="Folder for the PNG files.")] = Path("richmenu-preview"),
    locale: Locale = "ja",
) -> None:
    """Write the menu images as PNG files, to look at before deploying."""
    settings = _settings()
    for path in preview_rich_menus(settings, out, locale=locale):
        typer.echo(str(path))
