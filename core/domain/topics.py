"""What owners and partners consult about, and which coordinator specialties can serve it.

Owners pick topics from a LINE quick reply, which shows at most 13 items, so the list stays
at 13 or fewer; "other" keeps the threshold low for anyone whose problem fits no box.
Labels live in the message catalog (core/i18n/*/topics.toml), never here, so wording can
change without a code change.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Topic(StrEnum):
    FOUNDING = "founding"
    SALES_CHANNELS = "sales_channels"
    PRODUCT_DEVELOPMENT = "product_development"
    IT_DIGITAL = "it_digital"
    FINANCE = "finance"
    BOOKKEEPING = "bookkeeping"
    TAX = "tax"
    LABOUR = "labour"
    LABOUR_INSURANCE = "labour_insurance"
    SUBSIDIES = "subsidies"
    BUSINESS_SUCCESSION = "business_succession"
    MARKETING_DESIGN = "marketing_design"
    OTHER = "other"


class Specialty(StrEnum):
    IT = "it"
    SALES_CHANNELS = "sales_channels"
    PRODUCT_DEVELOPMENT = "product_development"
    FINANCE = "finance"
    LABOUR = "labour"
    LEGAL = "legal"
    DESIGN = "design"
    FOUNDING = "founding"
    SUCCESSION = "succession"
    MANUFACTURING = "manufacturing"
    FOOD = "food"
    TOURISM = "tourism"
    OVERSEAS = "overseas"
    ACCOUNTING = "accounting"


LINE_QUICK_REPLY_LIMIT: Final = 13
"""LINE shows at most 13 quick-reply buttons; a topic beyond that could never be picked."""

_S = Specialty

TOPIC_SPECIALTIES: Final[MappingProxyType[Topic, frozenset[Specialty]]] = MappingProxyType(
    {
        Topic.FOUNDING: frozenset({_S.FOUNDING, _S.FINANCE, _S.ACCOUNTING}),
        Topic.SALES_CHANNELS: frozenset({_S.SALES_CHANNELS, _S.OVERSEAS, _S.TOURISM, _S.FOOD}),
        Topic.PRODUCT_DEVELOPMENT: frozenset(
            {_S.PRODUCT_DEVELOPMENT, _S.MANUFACTURING, _S.FOOD, _S.DESIGN}
        ),
        Topic.IT_DIGITAL: frozenset({_S.IT}),
        Topic.FINANCE: frozenset({_S.FINANCE, _S.ACCOUNTING}),
        Topic.BOOKKEEPING: frozenset({_S.ACCOUNTING}),
        Topic.TAX: frozenset({_S.ACCOUNTING}),
        Topic.LABOUR: frozenset({_S.LABOUR, _S.LEGAL}),
        Topic.LABOUR_INSURANCE: frozenset({_S.LABOUR}),
        Topic.SUBSIDIES: frozenset({_S.FINANCE, _S.ACCOUNTING, _S.FOUNDING}),
        Topic.BUSINESS_SUCCESSION: frozenset({_S.SUCCESSION, _S.LEGAL, _S.ACCOUNTING}),
        Topic.MARKETING_DESIGN: frozenset({_S.DESIGN, _S.SALES_CHANNELS}),
        # Any coordinator can hear an unclassified problem; no specialty makes one better.
        Topic.OTHER: frozenset(),
    }
)
"""Specialties whose coordinators can serve a topic; used to rank who should take a case."""


def topics_covered(topics: frozenset[Topic], specialties: frozenset[Specialty]) -> frozenset[Topic]:
    """The case topics a coordinator could serve, so ranking and the UI agree on "covers"."""
    return frozenset(t for t in topics if TOPIC_SPECIALTIES[t] & specialties)
