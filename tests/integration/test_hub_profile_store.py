"""The hub profile as the console stores it, read back by the owners' answer, on SQLite and
PostgreSQL (the LINE round trip itself is tests/integration/test_hub_info.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.console import hub_settings
from core.db.models import AuditLog, Hub, HubProfile
from core.db.session import unit_of_work
from yorozu.seed import seed


async def _save(
    session: AsyncSession, hub: Hub, clock: ManualClock, **typed: str
) -> dict[str, list[Any]]:
    current = await hub_settings.current_settings(session, hub)
    form = hub_settings.read_settings({**current, **typed})
    assert form.ok, form.errors
    return await hub_settings.apply_settings(session, hub, form, actor_id=None, now=clock.now())


async def test_the_profile_is_stored_read_back_and_cleared_field_by_field(
    session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    async with unit_of_work(session_factory) as session:
        await seed(session, demo=False, clock=clock)
        hub = await session.scalar(select(Hub).where(Hub.code == "27"))
        assert hub is not None
        # Saving the page untouched makes no profile row: nothing is set, nothing is stored.
        assert await _save(session, hub, clock) == {}
        assert await session.get(HubProfile, hub.id) is None
        changes = await _save(
            session,
            hub,
            clock,
            info_latitude="34.686316",
            info_longitude="135.519711",
            info_phone="06-6123-4567",
            info_hours_0="9:00-12:00, 13:00-17:00",
            info_hours_6="休",
        )
        assert changes["info_phone"] == ["", "06-6123-4567"]

    async with unit_of_work(session_factory) as session:
        hub = await session.scalar(select(Hub).where(Hub.code == "27"))
        assert hub is not None
        profile = await session.get(HubProfile, hub.id)
        assert profile is not None
        assert (profile.latitude, profile.longitude) == (34.686316, 135.519711)
        assert profile.opening_hours == {"0": [["09:00", "12:00"], ["13:00", "17:00"]], "6": []}
        shown = await hub_settings.current_settings(session, hub)
        assert shown["info_hours_0"] == "9:00-12:00, 13:00-17:00"
        assert shown["info_latitude"] == "34.686316"
        # Clearing the phone clears only the phone.
        changes = await _save(session, hub, clock, info_phone="")
        assert changes == {"info_phone": ["06-6123-4567", ""]}

    async with session_factory() as session:
        profile = await session.get(HubProfile, hub.id)
        assert profile is not None
        assert profile.phone is None
        assert profile.latitude == 34.686316
        rows = (
            await session.scalars(select(AuditLog).where(AuditLog.action == "hub.settings_changed"))
        ).all()
        assert len(rows) == 2
