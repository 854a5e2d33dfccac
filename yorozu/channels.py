"""Which LINE account a channel key means, and its access token.

A channel key is "default" (the account configured in settings, national unless told
otherwise) or a hub code (that hub's own account, configured in line_channels). Webhooks,
the dispatcher and the rich menu deploy all resolve keys here, so they cannot disagree.
"""

from __future__ import annotations

from sqlalchemy import select

from core.db.models import Hub, LineChannel
from yorozu.bootstrap import Container

DEFAULT_CHANNEL = "default"


async def channel_access_token(container: Container, channel_key: str) -> str:
    if channel_key == DEFAULT_CHANNEL:
        return container.settings.line_channel_access_token.get_secret_value()
    async with container.session_factory() as session:
        token = await session.scalar(
            select(LineChannel.access_token)
            .join(Hub, Hub.id == LineChannel.hub_id)
            .where(Hub.code == channel_key)
        )
    if not token:
        raise LookupError(f"no LINE channel with an access token for hub {channel_key}")
    return token


async def channel_keys(container: Container) -> list[str]:
    """Every account we send through: the default one and each hub's own."""
    async with container.session_factory() as session:
        codes = await session.scalars(
            select(Hub.code)
            .join(LineChannel, LineChannel.hub_id == Hub.id)
            .where(LineChannel.access_token.is_not(None))
            .order_by(Hub.code)
        )
        return [DEFAULT_CHANNEL, *codes]
