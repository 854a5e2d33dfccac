"""People, the businesses they speak for, their platform identities and their consents.

Personal data sits only in `persons`; erasure blanks it there and keeps the row so counts
and anonymous aggregates survive (invariant 8).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID, enum_type
from core.domain.enums import ConsentNotice, Platform


class Person(Base):
    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    display_name: Mapped[str | None] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    given_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(8), default="ja")
    erased_at: Mapped[datetime | None]


class PersonBusiness(Base):
    __tablename__ = "person_businesses"
    __table_args__ = (UniqueConstraint("person_id", "business_id"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ID, ForeignKey("persons.id"))
    business_id: Mapped[int] = mapped_column(ID, ForeignKey("businesses.id"), index=True)
    role: Mapped[str] = mapped_column(String(32), default="owner")
    """owner, manager, employee, founder-to-be, ..."""


class ChannelIdentity(Base):
    """Who a person is on one platform; the key conversations and pushes are addressed by."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("platform", "channel_id", "external_user_id"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ID, ForeignKey("persons.id"), index=True)
    platform: Mapped[Platform] = mapped_column(enum_type(Platform, "platform", 8))
    channel_id: Mapped[str] = mapped_column(String(64))
    """The LINE channel id, or the Slack team id."""
    external_user_id: Mapped[str] = mapped_column(String(64))
    followed: Mapped[bool] = mapped_column(default=True)
    unfollowed_at: Mapped[datetime | None]
    rich_menu: Mapped[str | None] = mapped_column(String(32))
    """The per-user rich menu last asked for (LINE only): a change is linked, once."""
    created_at: Mapped[datetime]


class ConsentRecord(Base):
    """Which notice version a person agreed to, when, where; withdrawal keeps the row."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_person_id_notice", "person_id", "notice"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ID, ForeignKey("persons.id"))
    notice: Mapped[ConsentNotice] = mapped_column(enum_type(ConsentNotice, "notice", 16))
    version: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    """Where it was given: line, slack (a partner recorded it), web, paper."""
    given: Mapped[bool] = mapped_column(default=True)
    given_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    case_id: Mapped[int | None] = mapped_column(ID, ForeignKey("cases.id"), index=True)
    """Set for a hand-over consent, which is given per case."""
