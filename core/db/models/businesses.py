"""Businesses (事業者) and the record of merging duplicates (名寄せ).

The national figures count businesses after de-duplication, so a duplicate is never
deleted: it points at the survivor and both histories stay countable and auditable.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID, enum_type
from core.domain.enums import ActorKind, DatePrecision


class Business(Base):
    __tablename__ = "businesses"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    """The name normalised for matching (width, kana, 株式会社 and spaces removed)."""
    corporate_number: Mapped[str | None] = mapped_column(String(13), unique=True)
    """法人番号; sole proprietors have none."""
    prefecture_code: Mapped[str | None] = mapped_column(String(2))
    municipality: Mapped[str | None] = mapped_column(String(100))
    industry: Mapped[str | None] = mapped_column(String(32))
    """An Industry value (core.domain.industries)."""
    employees: Mapped[int | None]
    sales_band: Mapped[str | None] = mapped_column(String(32))
    capital_yen: Mapped[int | None] = mapped_column(BigInteger)
    founding_date: Mapped[date | None]
    founding_precision: Mapped[DatePrecision | None] = mapped_column(
        enum_type(DatePrecision, "founding_precision", 8)
    )
    founding_planned: Mapped[bool] = mapped_column(default=False)
    """Not founded yet: founders are followed up after they start."""
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    """Digits only, so the same number typed two ways matches."""
    merged_into_id: Mapped[int | None] = mapped_column(ID, ForeignKey("businesses.id"), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BusinessMerge(Base):
    __tablename__ = "business_merges"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    survivor_id: Mapped[int] = mapped_column(ID, ForeignKey("businesses.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ID, ForeignKey("businesses.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
    actor_kind: Mapped[ActorKind] = mapped_column(enum_type(ActorKind, "actor_kind", 16))
    actor_id: Mapped[int | None] = mapped_column(ID)
