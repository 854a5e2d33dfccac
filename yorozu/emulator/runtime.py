"""What the emulator needs while the service runs: stand-ins, a movable clock, the people."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import select

from core.clock import Clock, OffsetClock
from core.db.models import Coordinator, Hub, PartnerOrganisation, PartnerStaff
from core.domain.enums import CoRole
from integrations.standins import make_line_user_id
from scheduler.catchup import JobRun, run_due_between
from scheduler.runner import JobSpec, job_specs
from yorozu.sandbox import LineOwner, LocalPlatforms, SlackPerson
from yorozu.settings import Settings

log = logging.getLogger(__name__)

OWNER_DISPLAY_NAME = "山田 花子"
MAX_ADVANCE = timedelta(days=400)


class MovableClock(Clock, Protocol):
    def advance(self, delta: timedelta) -> Any: ...


@dataclass(frozen=True)
class Persona:
    user_id: str
    name: str
    role: str  # "co" | "cco" | "hq" | "partner"
    org: str

    def as_json(self) -> dict[str, str]:
        return {"user_id": self.user_id, "name": self.name, "role": self.role, "org": self.org}


@dataclass(frozen=True)
class Channel:
    id: str
    name: str


class EmulatorRuntime:
    """Created before the service's container, so the container uses its clock and settings."""

    def __init__(self, settings: Settings, clock: MovableClock | None = None) -> None:
        self.clock: MovableClock = clock if clock is not None else OffsetClock()
        self.platforms = LocalPlatforms(settings, self.clock)
        self.settings = settings
        self.owner_id = make_line_user_id("yorozu-emulator-owner")
        self.followed: set[str] = set()
        """LINE users who follow the account now (the phone shows 友だち追加 for the others)."""
        self._specs: list[JobSpec] = []
        self._sessions: Any = None

    def start(self) -> Settings:
        self.settings = self.platforms.start()
        self.platforms.line.set_profile(self.owner_id, OWNER_DISPLAY_NAME, language="ja")
        return self.settings

    def stop(self) -> None:
        self.platforms.stop()

    async def attach(self, container: Any) -> None:
        """Once the service's container exists: its jobs (for catch-up) and rich menus."""
        from yorozu.roles import scheduler_options

        self._sessions = container.session_factory
        config = scheduler_options(container.settings)["config"]
        self._specs = job_specs(container.session_factory, container.clock, config)
        await self._deploy_rich_menus(container)

    async def _deploy_rich_menus(self, container: Any) -> None:
        from yorozu.cli_line import deploy_rich_menus

        try:
            await deploy_rich_menus(container)
        except Exception:  # the emulator stays usable without a rich menu (e.g. no font)
            log.exception("emulator: rich menus not deployed")

    # -- people ------------------------------------------------------------------------------

    def line_owner(self, user_id: str | None = None) -> LineOwner:
        return self.platforms.line_owner(self.settings, self.clock, user_id or self.owner_id)

    def slack_person(self, user_id: str) -> SlackPerson:
        return self.platforms.slack_person(self.settings, user_id)

    def sample_photo(self) -> str:
        """A photo as the phone would send it: a small drawn picture kept by the LINE
        stand-in under a fresh message id, for the service to fetch from the data API."""
        import io
        import secrets

        from PIL import Image, ImageDraw

        picture = Image.new("RGB", (480, 320), (236, 226, 208))
        draw = ImageDraw.Draw(picture)
        draw.rectangle((60, 120, 420, 300), fill=(160, 82, 45))
        draw.polygon(((40, 130), (240, 30), (440, 130)), fill=(110, 60, 40))
        draw.rectangle((210, 200, 270, 300), fill=(90, 50, 30))
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=80)
        message_id = str(secrets.randbelow(10**17) + 10**17)
        self.platforms.line.add_content(message_id, buffer.getvalue(), "image/jpeg")
        return message_id

    async def personas(self) -> list[Persona]:
        """Everyone with a Slack id in the database: partner staff first, then hub staff."""
        people: list[Persona] = []
        async with self._sessions() as session:
            staff = await session.execute(
                select(PartnerStaff.slack_user_id, PartnerStaff.name, PartnerOrganisation.name)
                .join(PartnerOrganisation, PartnerOrganisation.id == PartnerStaff.organisation_id)
                .where(PartnerStaff.slack_user_id.is_not(None))
                .order_by(PartnerStaff.id)
            )
            for user_id, name, org in staff:
                people.append(Persona(user_id, name, "partner", org))
            cos = await session.execute(
                select(Coordinator.slack_user_id, Coordinator.name, Coordinator.role, Hub.name_ja)
                .join(Hub, Hub.id == Coordinator.hub_id)
                .where(Coordinator.slack_user_id.is_not(None))
                .order_by(Hub.code, Coordinator.role.desc(), Coordinator.id)
            )
            roles = {CoRole.CO: "co", CoRole.CCO: "cco", CoRole.HQ_SPECIALIST: "hq"}
            for user_id, name, role, hub in cos:
                people.append(Persona(user_id, name, roles.get(role, "co"), hub))
        for person in people:
            self.platforms.slack.add_user(person.user_id, person.name)
            self.platforms.oidc.add_user(person.user_id, self.platforms.team_id, person.name)
        return people

    async def channels(self) -> list[Channel]:
        """The hubs' intake channels that someone can see, plus any the service posted to."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Hub.slack_intake_channel_id, Hub.code, Hub.name_ja)
                .where(Hub.slack_intake_channel_id.is_not(None))
                .where(
                    Hub.id.in_(
                        select(Coordinator.hub_id).where(Coordinator.slack_user_id.is_not(None))
                    )
                )
                .order_by(Hub.code)
            )
            found = [Channel(cid, f"yorozu-{code}-intake") for cid, code, _name in rows]
        known = {channel.id for channel in found}
        dm_prefix = "D"
        for message in self.platforms.slack.recorder.messages:
            if message.channel not in known and not message.channel.startswith(dm_prefix):
                known.add(message.channel)
                found.append(Channel(message.channel, message.channel.lower()))
        return found

    # -- time ----------------------------------------------------------------------------------

    async def advance(self, delta: timedelta) -> list[JobRun]:
        """Move the service's time forward and run the jobs that would have fired meanwhile."""
        if delta <= timedelta(0) or delta > MAX_ADVANCE:
            raise ValueError("between one second and 400 days")
        start = self.clock.now()
        self.clock.advance(delta)
        return await run_due_between(self._specs, start, self.clock.now())
