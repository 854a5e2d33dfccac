"""Which LINE rich menu id each of our menus has on each channel, after the last deploy.

LINE knows menus only by its own ids; linking a person to "the booked menu" needs this map.
One row per (channel, menu), overwritten by each deploy, so the service never links to a menu
that a later deploy deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID


class RichMenuDeployment(Base):
    __tablename__ = "rich_menu_deployments"
    __table_args__ = (UniqueConstraint("channel_key", "menu_key"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    channel_key: Mapped[str] = mapped_column(String(64))
    """"default" or a hub code, as in OwnerEvent.channel_key and outbox rows."""
    menu_key: Mapped[str] = mapped_column(String(32))
    """core.owners.richmenus menu id: before_consent, registered, booked."""
    line_rich_menu_id: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime]


async def record_deployment(
    session: AsyncSession, channel_key: str, ids: Mapping[str, str], *, now: datetime
) -> None:
    """Remember a deploy's ids (menus no longer defined are forgotten)."""
    rows = {
        row.menu_key: row
        for row in await session.scalars(
            select(RichMenuDeployment).where(RichMenuDeployment.channel_key == channel_key)
        )
    }
    for menu_key, stale in rows.items():
        if menu_key not in ids:
            await session.delete(stale)
    for menu_key, rich_menu_id in ids.items():
        row = rows.get(menu_key)
        if row is None:
            session.add(
                RichMenuDeployment(
                    channel_key=channel_key,
                    menu_key=menu_key,
                    line_rich_menu_id=rich_menu_id,
                    deployed_at=now,
                )
            )
        else:
            row.line_rich_menu_id = rich_menu_id
            row.deployed_at = now
    await session.flush()


async def deployed_menu_ids(session: AsyncSession, channel_key: str) -> dict[str, str]:
    """menu key → LINE richMenuId for a channel; empty when nothing was deployed there."""
    rows = await session.scalars(
        select(RichMenuDeployment).where(RichMenuDeployment.channel_key == channel_key)
    )
    return {row.menu_key: row.line_rich_menu_id for row in rows}
