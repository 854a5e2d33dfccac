"""Which partner organisation should take part of a case (橋渡し), per DOMAIN.md.

The hub hands back what partners do best: 商工会 / 商工会議所 handle bookkeeping guidance,
labour-insurance paperwork, マル経融資 (which needs the chamber's recommendation) and
subsidy business plans; 中小機構 takes larger SMEs (zone C) into hands-on support; credit
guarantee corporations and banks hold the financial data a zone B finance case needs.
These are suggestions for the coordinator, never automatic transfers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from core.domain.organisations import OrganisationKind
from core.domain.topics import Topic
from core.text.normalize import nfkc


class HandoverReason(StrEnum):
    """Ordered strongest first: the order the suggestions are shown in."""

    LARGER_SME_HANDS_ON = "larger_sme_hands_on"
    """Zone C: DOMAIN.md makes hand-over the hub's role, so it leads."""
    PARTNER_PAPERWORK = "partner_paperwork"
    """記帳指導 and 労働保険 paperwork: handled there, not at the hub."""
    MARUKEI_LOAN = "marukei_loan"
    """Only the local society can recommend マル経融資 for a small business."""
    SUBSIDY_BUSINESS_PLAN = "subsidy_business_plan"
    """Partners write subsidy plans routinely; the hub can help too, so it ranks lower."""
    GUARANTEED_LOAN = "guaranteed_loan"
    """Zone B finance: the lender and guarantor hold the data; the hub still advises."""


@dataclass(frozen=True, slots=True)
class HandoverCase:
    """What the router knows about a case.

    ``zone`` is "A", "B" or "C" (None when unknown) so routing does not depend on the
    zone module's type; ``municipality`` is the 市区町村 as typed, None when unknown.
    """

    topics: frozenset[Topic]
    zone: str | None = None
    municipality: str | None = None


@dataclass(frozen=True, slots=True)
class HandoverSuggestion:
    kind: OrganisationKind
    reason: HandoverReason
    topics: tuple[Topic, ...]


_TOWN_VILLAGE_ENDINGS: Final = ("町", "村", "郡", " town", " village")
_CITY_ENDINGS: Final = ("市", "区", " city", " ward")


def local_society_for(municipality: str | None) -> OrganisationKind | None:
    """商工会 for towns and villages, 商工会議所 for cities and wards, None when unclear.

    Only the ending decides: "町田市" is a city and "市貝町" a town, so looking
    for 市 or 町 anywhere would get both wrong. Wards (区) belong to Tokyo or to a
    designated city, both served by a chamber. Some merged cities still have a 商工会;
    the coordinator corrects those by hand.
    """
    if municipality is None:
        return None
    name = nfkc(municipality).strip().casefold()
    if name.endswith(_TOWN_VILLAGE_ENDINGS):
        return OrganisationKind.SHOKOKAI
    if name.endswith(_CITY_ENDINGS):
        return OrganisationKind.SHOKO_KAIGISHO
    return None


def _ordered(topics: frozenset[Topic]) -> tuple[Topic, ...]:
    return tuple(t for t in Topic if t in topics)


def _local(
    case: HandoverCase, reason: HandoverReason, topics: frozenset[Topic]
) -> list[HandoverSuggestion]:
    """Both local kinds when the municipality is unknown: the coordinator knows the area."""
    if not topics:
        return []
    kind = local_society_for(case.municipality)
    kinds = (
        (kind,)
        if kind is not None
        else (OrganisationKind.SHOKO_KAIGISHO, OrganisationKind.SHOKOKAI)
    )
    return [HandoverSuggestion(k, reason, _ordered(topics)) for k in kinds]


def suggest_handovers(case: HandoverCase) -> tuple[HandoverSuggestion, ...]:
    """Suggestions strongest first; empty when the hub itself is the right place."""
    zone = case.zone.strip().upper() if case.zone is not None else None
    topics = case.topics
    suggestions: list[HandoverSuggestion] = []
    if zone == "C":
        suggestions.append(
            HandoverSuggestion(
                OrganisationKind.SMRJ, HandoverReason.LARGER_SME_HANDS_ON, _ordered(topics)
            )
        )
    paperwork = topics & {Topic.BOOKKEEPING, Topic.LABOUR_INSURANCE}
    suggestions += _local(case, HandoverReason.PARTNER_PAPERWORK, paperwork)
    if zone == "A":
        suggestions += _local(case, HandoverReason.MARUKEI_LOAN, topics & {Topic.FINANCE})
    suggestions += _local(case, HandoverReason.SUBSIDY_BUSINESS_PLAN, topics & {Topic.SUBSIDIES})
    if zone == "B" and Topic.FINANCE in topics:
        for kind in (OrganisationKind.CREDIT_GUARANTEE, OrganisationKind.BANK):
            suggestions.append(
                HandoverSuggestion(kind, HandoverReason.GUARANTEED_LOAN, (Topic.FINANCE,))
            )
    return tuple(suggestions)
