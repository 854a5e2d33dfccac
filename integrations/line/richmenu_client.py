"""Rich menu deploy and per-user linking over line-bot-sdk v3.

The SDK's AsyncMessagingApi creates, lists, links and deletes menus on api.line.me; the image
goes to api-data.line.me through AsyncMessagingApiBlob. Both hosts are settings
(LINE_API_BASE_URL, LINE_DATA_API_BASE_URL) so the local stand-in can answer for both.

A deploy is safe to repeat: a menu is named by a digest of its JSON and image, so an
unchanged menu is found by name and reused (LINE allows 100 rich menu creations an hour, and
replacing a menu drops every per-user link to it). Only menus whose name starts with the
deploy prefix are ever deleted, so menus made by hand in the console survive.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

import aiohttp
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
    CreateRichMenuAliasRequest,
    RichMenuBulkLinkRequest,
    RichMenuRequest,
)
from linebot.v3.messaging.exceptions import ApiException

from core.outbox.policy import SendOutcome
from integrations.line.client import _from_exception

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_NAME_PREFIX = "yorozu-"
BULK_LINK_MAX_USERS = 500


class DeployableMenu(Protocol):
    """What a deploy needs of one menu (bots.line.richmenu.RenderedMenu has it)."""

    @property
    def menu_id(self) -> str: ...
    @property
    def request(self) -> dict[str, Any]: ...
    @property
    def image(self) -> bytes: ...
    @property
    def name(self) -> str: ...
    @property
    def alias(self) -> str: ...


class RichMenuDeployError(RuntimeError):
    """LINE refused a step of the deploy; the message names the step and LINE's answer."""


@dataclass
class DeployResult:
    ids: dict[str, str] = field(default_factory=dict)
    """menu id ("registered", ...) → LINE richMenuId."""
    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    """LINE richMenuIds of earlier deploys that were removed (their per-user links went too)."""
    replaced: dict[str, str] = field(default_factory=dict)
    """menu id → the richMenuId it had before this deploy, for menus that changed: people
    linked to the old one now see the default until they are linked again."""


class RichMenuClient:
    """One channel's rich menus (one access token)."""

    def __init__(
        self,
        access_token: str,
        *,
        base_url: str = "https://api.line.me",
        data_base_url: str = "https://api-data.line.me",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        name_prefix: str = DEFAULT_NAME_PREFIX,
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._client = AsyncApiClient(
            Configuration(host=base_url.rstrip("/"), access_token=access_token)
        )
        self._blob_client = AsyncApiClient(
            Configuration(host=data_base_url.rstrip("/"), access_token=access_token)
        )
        self._api = AsyncMessagingApi(self._client)
        self._blob = AsyncMessagingApiBlob(self._blob_client)
        self._prefix = name_prefix

    async def __aenter__(self) -> RichMenuClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for client in (self._client, self._blob_client):
            try:
                await client.close()
            except Exception:
                log.warning("closing a LINE client failed", exc_info=True)

    # -- deploy ---------------------------------------------------------------------------

    async def deploy(self, menus: Sequence[DeployableMenu], *, default: str) -> DeployResult:
        """Create (or reuse) every menu with its image, make `default` the channel default,
        point each menu's alias at it, then delete the earlier deploy's leftovers.

        Deleting comes last so that a failure half-way leaves the old menus working.
        """
        if default not in {menu.menu_id for menu in menus}:
            raise ValueError(f"the default menu {default!r} is not among those deployed")
        existing = await self._step("list rich menus", self._api.get_rich_menu_list(**self._kw()))
        by_name = {menu.name: menu.rich_menu_id for menu in existing.richmenus}
        ours = {
            menu.rich_menu_id: menu.name
            for menu in existing.richmenus
            if menu.name.startswith(self._prefix)
        }
        result = DeployResult()
        for menu in menus:
            found = by_name.get(menu.name)
            if found is not None:
                await self._ensure_image(found, menu)
                result.ids[menu.menu_id] = found
                result.reused.append(menu.menu_id)
            else:
                result.ids[menu.menu_id] = await self._create(menu)
                result.created.append(menu.menu_id)
        await self._step(
            "set the default rich menu",
            self._api.set_default_rich_menu(result.ids[default], **self._kw()),
        )
        previous = await self._point_aliases(menus, result.ids)
        for menu in menus:
            old = previous.get(menu.alias)
            if old is not None and old != result.ids[menu.menu_id]:
                result.replaced[menu.menu_id] = old
        keep = set(result.ids.values())
        for rich_menu_id in sorted(set(ours) - keep):
            await self._step(
                f"delete the old rich menu {ours[rich_menu_id]}",
                self._api.delete_rich_menu(rich_menu_id, **self._kw()),
            )
            result.deleted.append(rich_menu_id)
        log.info(
            "rich menus deployed",
            extra={
                "menus_created": result.created,
                "menus_reused": result.reused,
                "menus_deleted": len(result.deleted),
            },
        )
        return result

    async def _create(self, menu: DeployableMenu) -> str:
        request = RichMenuRequest.from_dict(menu.request)
        created = await self._step(
            f"create the {menu.menu_id} rich menu",
            self._api.create_rich_menu(request, **self._kw()),
        )
        rich_menu_id = str(created.rich_menu_id)
        await self._upload(rich_menu_id, menu)
        return rich_menu_id

    async def _upload(self, rich_menu_id: str, menu: DeployableMenu) -> None:
        await self._step(
            f"upload the {menu.menu_id} rich menu image",
            self._blob.set_rich_menu_image(
                rich_menu_id,
                menu.image,
                _headers={"Content-Type": _content_type(menu.image)},
                **self._kw(),
            ),
        )

    async def _ensure_image(self, rich_menu_id: str, menu: DeployableMenu) -> None:
        """A menu left without its image by an interrupted deploy cannot be shown or linked;
        upload it now (LINE takes an image once, so a menu that has one is left alone)."""
        try:
            await self._blob.get_rich_menu_image(rich_menu_id, **self._kw())
        except ApiException as exc:
            if exc.status != 404:
                raise RichMenuDeployError(_describe("read a rich menu image", exc)) from exc
            await self._upload(rich_menu_id, menu)

    async def _point_aliases(
        self, menus: Sequence[DeployableMenu], ids: dict[str, str]
    ) -> dict[str, str]:
        """Each alias → its menu's new id; answers where the aliases pointed before."""
        listed = await self._step(
            "list rich menu aliases", self._api.get_rich_menu_alias_list(**self._kw())
        )
        previous = {alias.rich_menu_alias_id: alias.rich_menu_id for alias in listed.aliases}
        for menu in menus:
            target = ids[menu.menu_id]
            current = previous.get(menu.alias)
            if current == target:
                continue
            if current is not None:
                await self._step(
                    f"delete the alias {menu.alias}",
                    self._api.delete_rich_menu_alias(menu.alias, **self._kw()),
                )
            await self._step(
                f"create the alias {menu.alias}",
                self._api.create_rich_menu_alias(
                    CreateRichMenuAliasRequest(richMenuAliasId=menu.alias, richMenuId=target),
                    **self._kw(),
                ),
            )
        return previous

    async def _step(self, what: str, call: Any) -> Any:
        try:
            return await call
        except ApiException as exc:
            raise RichMenuDeployError(_describe(what, exc)) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise RichMenuDeployError(f"{what}: {type(exc).__name__}") from exc

    # -- per user -----------------------------------------------------------------------

    async def link_user(self, user_id: str, rich_menu_id: str) -> SendOutcome:
        """Show `rich_menu_id` to one person at once (it overrides the default).

        Answers a neutral outcome and never raises for an HTTP answer or a time-out, like the
        message sender, so the dispatcher can retry it with the same policy.
        """
        return await self._outcome(
            self._api.link_rich_menu_id_to_user_with_http_info(user_id, rich_menu_id, **self._kw())
        )

    async def unlink_user(self, user_id: str) -> SendOutcome:
        """Back to the channel's default menu."""
        return await self._outcome(
            self._api.unlink_rich_menu_id_from_user_with_http_info(user_id, **self._kw())
        )

    async def link_users(self, user_ids: Sequence[str], rich_menu_id: str) -> list[SendOutcome]:
        """Many people at once (LINE's bulk link, ≤500 a request): relinking after a deploy
        replaced a menu."""
        outcomes = []
        for start in range(0, len(user_ids), BULK_LINK_MAX_USERS):
            chunk = list(user_ids[start : start + BULK_LINK_MAX_USERS])
            request = RichMenuBulkLinkRequest(richMenuId=rich_menu_id, userIds=chunk)
            outcomes.append(
                await self._outcome(
                    self._api.link_rich_menu_id_to_users_with_http_info(request, **self._kw())
                )
            )
        return outcomes

    async def list_menus(self) -> list[dict[str, Any]]:
        listed = await self._step("list rich menus", self._api.get_rich_menu_list(**self._kw()))
        return [menu.to_dict() for menu in listed.richmenus]

    async def _outcome(self, call: Any) -> SendOutcome:
        try:
            response = await call
        except ApiException as exc:
            return _from_exception(exc)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return SendOutcome(status=None, error=type(exc).__name__)
        headers = response.headers or {}
        request_id = headers.get("x-line-request-id") if hasattr(headers, "get") else None
        return SendOutcome(status=int(response.status_code or 200), request_id=request_id)

    def _kw(self) -> dict[str, Any]:
        # The SDK's default time-out is 300 s (PLATFORMS.md).
        return {"_request_timeout": self._timeout}


def _content_type(image: bytes) -> str:
    if image[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if image[:2] == b"\xff\xd8":
        return "image/jpeg"
    raise ValueError("a rich menu image must be PNG or JPEG")


def _describe(what: str, exc: ApiException) -> str:
    outcome = _from_exception(exc)
    return f"{what}: LINE answered {outcome.status} {outcome.error or ''}".rstrip()
