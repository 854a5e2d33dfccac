"""Hubs, the days they are closed, and the LINE official accounts that lead to them.

Also holds the two column helpers every model module shares (`ID`, `enum_type`), because
hubs is the table everything else hangs off.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from core.db.base import Base
from core.domain.enums import HubKind

ID: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit ids on PostgreSQL; on SQLite only INTEGER PRIMARY KEY autoincrements."""


def enum_type(enum_class: type[StrEnum], name: str, length: int = 32) -> Enum:
    """A StrEnum stored by value as VARCHAR plus a CHECK constraint, identical on both backends.

    `name` becomes the CHECK constraint's name; it must differ between two columns of one
    table that share an enum, or PostgreSQL refuses the second constraint.
    """
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def _default_followup_months() -> list[int]:
    return [1, 3, 6, 12, 24]


class Hub(Base):
    __tablename__ = "hubs"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(2), unique=True)
    """JIS prefecture code "01".."47"; "00" for HQ."""
    kind: Mapped[HubKind] = mapped_column(enum_type(HubKind, "kind", 8))
    prefecture_code: Mapped[str | None] = mapped_column(String(2))
    name_ja: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    implementing_org_ja: Mapped[str] = mapped_column(String(200))
    quiet_start: Mapped[time] = mapped_column(default=time(21, 0))
    """Japan time at which the owners' push window closes each day (invariant 7)."""
    quiet_end: Mapped[time] = mapped_column(default=time(8, 0))
    """Japan time at which it opens again; every day alike (core.push_window)."""
    followup_months: Mapped[list[int]] = mapped_column(JSON, default=_default_followup_months)
    """Months after a case closes when the owner is asked how things went."""
    escalation_hours: Mapped[int] = mapped_column(default=24)
    """A case unclaimed this long is shown to the CCO."""
    slack_intake_channel_id: Mapped[str | None] = mapped_column(String(32))
    slack_cco_channel_id: Mapped[str | None] = mapped_column(String(32))
    """Where the CCOs' notices go (escalations, budget warnings, reassignments); None: a DM
    to each CCO (core.notify)."""
    business_day_start: Mapped[time | None]
    """When the hub's business day starts, Japan time (None: 09:00); escalation counts
    business hours between this and `business_day_end` (core.calendar)."""
    business_day_end: Mapped[time | None]
    escalation_hq_hours: Mapped[int | None]
    """Further business hours after the CCO before HQ is told (None: the policy's 16)."""
    survey_send_at: Mapped[time | None]
    """Japan time the satisfaction survey is sent on the next business day (None: 10:00)."""
    slack_team_id: Mapped[str | None] = mapped_column(String(32))
    """The Slack workspace the hub's channels are in: its installation's token sends for it.
    None: the single workspace of SLACK_BOT_TOKEN."""
    slack_enterprise_id: Mapped[str | None] = mapped_column(String(32))
    """The Enterprise Grid organisation of that workspace, if any."""
    slack_disconnected_at: Mapped[datetime | None]
    """Set when the app was uninstalled from the workspace or its tokens revoked: sends to the
    hub are held until a reinstall clears it."""
    active: Mapped[bool] = mapped_column(default=True)


class HubClosedDay(Base):
    """A day the hub is closed (年末年始, 臨時休業): pushes wait and no slot is offered."""

    __tablename__ = "hub_closed_days"
    __table_args__ = (UniqueConstraint("hub_id", "day"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    hub_id: Mapped[int] = mapped_column(ID, ForeignKey("hubs.id", ondelete="CASCADE"))
    day: Mapped[date]
    reason: Mapped[str | None] = mapped_column(String(200))


class LineChannel(Base):
    """A LINE official account: one per hub, or the national one (no hub) that asks."""

    __tablename__ = "line_channels"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    hub_id: Mapped[int | None] = mapped_column(ID, ForeignKey("hubs.id"), index=True)
    channel_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    monthly_push_budget: Mapped[int | None]
    """Push messages the plan allows a month; None for unlimited."""
    plan: Mapped[str | None] = mapped_column(String(32))
    secret: Mapped[str | None] = mapped_column(String(128))
    """Channel secret for webhook signatures; the default channel's comes from settings."""
    access_token: Mapped[str | None] = mapped_column(String(512))
    """Long-lived channel access token for sends; never logged."""
