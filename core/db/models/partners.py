"""Partner organisations (商工会, 商工会議所, banks, ...) and their staff.

Staff reach the hub through a Slack workspace shared with it, so both carry Slack ids.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID, enum_type
from core.domain.organisations import OrganisationKind


class PartnerOrganisation(Base):
    __tablename__ = "partner_organisations"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    kind: Mapped[OrganisationKind] = mapped_column(enum_type(OrganisationKind, "kind", 32))
    name: Mapped[str] = mapped_column(String(200))
    prefecture_code: Mapped[str | None] = mapped_column(String(2), index=True)
    municipality: Mapped[str | None] = mapped_column(String(100))
    slack_channel_id: Mapped[str | None] = mapped_column(String(32))
    slack_team_id: Mapped[str | None] = mapped_column(String(32))


class PartnerStaff(Base):
    __tablename__ = "partner_staff"
    __table_args__ = (UniqueConstraint("slack_user_id", "slack_team_id"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    organisation_id: Mapped[int] = mapped_column(
        ID, ForeignKey("partner_organisations.id"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(100))
    """For example 経営指導員."""
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    slack_user_id: Mapped[str | None] = mapped_column(String(32))
    slack_team_id: Mapped[str | None] = mapped_column(String(32))
    console_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Manages their organisation's staff in the operations console."""
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    """Staff who left keep their history but no longer sign in or hand cases over."""
