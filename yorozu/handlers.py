"""The worker's handler: an inbox row → the bots translator → the core, in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.line.events import to_owner_event
from core.db.models import Hub, InboxEvent
from core.domain.enums import Platform
from core.i18n import Text
from core.owners.events import OwnerEventKind
from core.owners.handler import handle_owner_event
from core.owners.onboarding import ChannelContext
from core.privacy.slack import SlackErasure
from core.queues.sql import SqlAlchemyHubQueue
from integrations.line.client import LineSender
from yorozu.bootstrap import Container
from yorozu.channels import channel_access_token

Handler = Callable[[AsyncSession, InboxEvent], Awaitable[None]]
DEFAULT_CHANNEL = "default"


async def channel_context(
    session: AsyncSession,
    channel_key: str,
    privacy_url: str,
    slack_erasure: SlackErasure = SlackErasure.UPDATE,
) -> ChannelContext:
    """The default account is national (it asks the prefecture); others belong to a hub."""
    if channel_key == DEFAULT_CHANNEL:
        return ChannelContext(
            channel_key=channel_key,
            hub_id=None,
            hub_name=Text("hub.national"),
            privacy_url=privacy_url,
            national=True,
            slack_erasure=slack_erasure,
        )
    hub = await session.scalar(select(Hub).where(Hub.code == channel_key))
    if hub is None or hub.prefecture_code is None:
        return ChannelContext(
            channel_key, None, Text("hub.national"), privacy_url, True, slack_erasure
        )
    return ChannelContext(
        channel_key=channel_key,
        hub_id=hub.id,
        hub_name=Text("hub.name", prefecture=Text(f"prefecture.{hub.prefecture_code}")),
        privacy_url=privacy_url,
        national=False,
        slack_erasure=slack_erasure,
    )


def build_handler(container: Container) -> Handler:
    privacy_url = str(container.settings.privacy_notice_url)
    settings = container.settings
    profiles = LineSender(str(settings.line_api_base_url), timeout=2.0)
    container.on_close(profiles.aclose)

    async def language_of(channel_key: str, user_id: str) -> str | None:
        """The owner's LINE language, read once when they follow (Japanese if unknown)."""
        try:
            token = await channel_access_token(container, channel_key)
        except LookupError:
            return None
        return await profiles.get_profile_language(token, user_id)

    async def handle(session: AsyncSession, row: InboxEvent) -> None:
        now = container.clock.now()
        if row.platform is Platform.LINE:
            event = to_owner_event(
                row.payload, channel_key=row.channel_id, received_at=row.received_at
            )
            if event is None:
                return
            if event.kind is OwnerEventKind.FOLLOW:
                event = replace(event, language=await language_of(row.channel_id, event.user_id))
            channel = await channel_context(
                session, row.channel_id, privacy_url, settings.slack_erasure
            )
            queue = SqlAlchemyHubQueue.in_transaction(session)
            await handle_owner_event(session, event, channel, now, queue=queue)
            return
        if row.platform is Platform.SLACK:
            from bots.slack import listeners  # noqa: F401  (registers every work handler)
            from bots.slack.deps import WORK, WorkContext

            handler = WORK.get(row.kind)
            if handler is None:
                raise LookupError(f"no Slack work handler for {row.kind!r}")
            queue = SqlAlchemyHubQueue.in_transaction(session)
            await handler(session, row.payload, WorkContext(now=now, queue=queue))
            return
        raise LookupError(f"no handler for {row.platform} events")

    return handle
