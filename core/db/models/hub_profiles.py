"""What a hub tells owners about itself (拠点のご案内), and who asked to be let in.

`hub_profiles` holds a hub's public information as its CCO types it in the console: a field
left empty is unknown and is never shown, so nothing is ever guessed. `access_requests` are
partner staff who found themselves unregistered in Slack and asked the hub to register them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID, enum_type


def _no_hours() -> dict[str, Any]:
    return {}


class HubProfile(Base):
    """One row per hub, made when its CCO first saves any of it."""

    __tablename__ = "hub_profiles"

    hub_id: Mapped[int] = mapped_column(
        ID, ForeignKey("hubs.id", ondelete="CASCADE"), primary_key=True
    )
    official_name: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(8))
    """Like 100-0005."""
    address: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    phone: Mapped[str | None] = mapped_column(String(32))
    """E.164 (+81...), checked with phonenumbers; shown in Japan's national format."""
    website_url: Mapped[str | None] = mapped_column(String(1000))
    """https only; LINE's URI actions take at most 1,000 characters."""
    opening_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=_no_hours)
    """{"0".."6" (Monday = 0): [["09:00", "17:00"], ...] or [] for closed}; a weekday absent
    from the map is not known."""
    access: Mapped[str | None] = mapped_column(Text)
    """How to get there (最寄り駅から徒歩5分, ...), as the hub writes it."""
    updated_at: Mapped[datetime | None]


class AccessRequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class AccessRequest(Base):
    """Partner staff asking to be registered: one pending row per Slack user and workspace.

    The name and note are what the person typed (personal data of staff, like partner_staff);
    the audit log keeps only this row's id.
    """

    __tablename__ = "access_requests"
    __table_args__ = (
        Index("ix_access_requests_slack_user", "slack_team_id", "slack_user_id"),
        Index("ix_access_requests_hub_status", "hub_id", "status"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    hub_id: Mapped[int] = mapped_column(ID, ForeignKey("hubs.id"))
    slack_team_id: Mapped[str] = mapped_column(String(32))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    organisation_id: Mapped[int | None] = mapped_column(ID, ForeignKey("partner_organisations.id"))
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    """Typed when the organisation was not in the list."""
    note: Mapped[str | None] = mapped_column(String(1000))
    locale: Mapped[str] = mapped_column(String(8), default="ja")
    status: Mapped[AccessRequestStatus] = mapped_column(
        enum_type(AccessRequestStatus, "status", 16), default=AccessRequestStatus.PENDING
    )
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ID, ForeignKey("coordinators.id"))
    partner_staff_id: Mapped[int | None] = mapped_column(ID, ForeignKey("partner_staff.id"))
    """The staff row an approval made (or woke up)."""
