"""Hand-overs of a case between the hub and partners, or to another hub.

One table for both directions so each side sees the same row and its outcome: partners say
cooperation stays shallow when neither side can see what the other did.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID, enum_type
from core.domain.enums import ReferralDirection, ReferralStatus


class Referral(Base):
    __tablename__ = "referrals"
    __table_args__ = (
        # What a hub or an organisation still has to answer.
        Index("ix_referrals_to_hub_id_status", "to_hub_id", "status"),
        Index("ix_referrals_to_organisation_id_status", "to_organisation_id", "status"),
        # Figure 4 (referrals to other organisations) per hub and period.
        Index("ix_referrals_from_hub_id_created_at", "from_hub_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ID, ForeignKey("cases.id"), index=True)
    direction: Mapped[ReferralDirection] = mapped_column(
        enum_type(ReferralDirection, "direction", 16)
    )
    from_hub_id: Mapped[int] = mapped_column(ID, ForeignKey("hubs.id"))
    """The hub on whose case the referral hangs, whichever way it runs."""
    to_hub_id: Mapped[int | None] = mapped_column(ID, ForeignKey("hubs.id"))
    to_organisation_id: Mapped[int | None] = mapped_column(
        ID, ForeignKey("partner_organisations.id")
    )
    """The partner on the other side (receiving for to_partner, sending for from_partner)."""
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ReferralStatus] = mapped_column(
        enum_type(ReferralStatus, "status", 16), default=ReferralStatus.SENT
    )
    outcome: Mapped[str | None] = mapped_column(Text)
    from_co_id: Mapped[int | None] = mapped_column(ID, ForeignKey("coordinators.id"))
    """The CO who handed the case back or asked another hub."""
    answered_by_co_id: Mapped[int | None] = mapped_column(ID, ForeignKey("coordinators.id"))
    """The CO of the asked hub who took a to_hub request on."""
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
