"""The router suggests the partner that handles what the hub should hand over (DOMAIN.md)."""

from __future__ import annotations

import pytest

from core.domain.organisations import OrganisationKind as Org
from core.domain.topics import Topic as T
from core.routing.handovers import HandoverCase, local_society_for, suggest_handovers
from core.routing.handovers import HandoverReason as R


@pytest.mark.parametrize(
    ("municipality", "kind"),
    [
        ("白川村", Org.SHOKOKAI),
        ("大野郡白川村", Org.SHOKOKAI),
        ("余市郡余市町", Org.SHOKOKAI),
        ("市貝町", Org.SHOKOKAI),
        ("葉山町 ", Org.SHOKOKAI),
        ("Hayama Town", Org.SHOKOKAI),
        ("町田市", Org.SHOKO_KAIGISHO),
        ("村上市", Org.SHOKO_KAIGISHO),
        ("東京都町田市", Org.SHOKO_KAIGISHO),
        ("千代田区", Org.SHOKO_KAIGISHO),
        ("横浜市中区", Org.SHOKO_KAIGISHO),
        ("Sendai City", Org.SHOKO_KAIGISHO),
        (None, None),
        ("", None),
        ("わからない", None),
    ],
)
def test_local_society_follows_the_municipality(municipality: str | None, kind: Org | None) -> None:
    assert local_society_for(municipality) == kind


def _summary(case: HandoverCase) -> list[tuple[Org, R, tuple[T, ...]]]:
    return [(s.kind, s.reason, s.topics) for s in suggest_handovers(case)]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param(
            HandoverCase(frozenset({T.SALES_CHANNELS}), zone="C", municipality="札幌市"),
            [(Org.SMRJ, R.LARGER_SME_HANDS_ON, (T.SALES_CHANNELS,))],
            id="zone C goes to SMRJ hands-on",
        ),
        pytest.param(
            HandoverCase(frozenset({T.BOOKKEEPING, T.LABOUR_INSURANCE}), "A", "白川村"),
            [(Org.SHOKOKAI, R.PARTNER_PAPERWORK, (T.BOOKKEEPING, T.LABOUR_INSURANCE))],
            id="village bookkeeping and labour insurance to 商工会",
        ),
        pytest.param(
            HandoverCase(frozenset({T.BOOKKEEPING}), "B", "千代田区"),
            [(Org.SHOKO_KAIGISHO, R.PARTNER_PAPERWORK, (T.BOOKKEEPING,))],
            id="Tokyo ward bookkeeping to 商工会議所",
        ),
        pytest.param(
            HandoverCase(frozenset({T.FINANCE}), "A", "町田市"),
            [(Org.SHOKO_KAIGISHO, R.MARUKEI_LOAN, (T.FINANCE,))],
            id="small business finance is マル経 via the chamber",
        ),
        pytest.param(
            HandoverCase(frozenset({T.FINANCE}), "B", "町田市"),
            [
                (Org.CREDIT_GUARANTEE, R.GUARANTEED_LOAN, (T.FINANCE,)),
                (Org.BANK, R.GUARANTEED_LOAN, (T.FINANCE,)),
            ],
            id="zone B finance to guarantee corporation and bank, not マル経",
        ),
        pytest.param(
            HandoverCase(frozenset({T.FINANCE}), None, "町田市"),
            [],
            id="finance with unknown size suggests nothing",
        ),
        pytest.param(
            HandoverCase(frozenset({T.SUBSIDIES}), "B", "葉山町"),
            [(Org.SHOKOKAI, R.SUBSIDY_BUSINESS_PLAN, (T.SUBSIDIES,))],
            id="subsidy plans to the town's 商工会",
        ),
        pytest.param(
            HandoverCase(frozenset({T.SUBSIDIES, T.FINANCE, T.LABOUR_INSURANCE}), "a", "葉山町"),
            [
                (Org.SHOKOKAI, R.PARTNER_PAPERWORK, (T.LABOUR_INSURANCE,)),
                (Org.SHOKOKAI, R.MARUKEI_LOAN, (T.FINANCE,)),
                (Org.SHOKOKAI, R.SUBSIDY_BUSINESS_PLAN, (T.SUBSIDIES,)),
            ],
            id="strongest first and lower-case zone accepted",
        ),
        pytest.param(
            HandoverCase(frozenset({T.BOOKKEEPING, T.IT_DIGITAL}), "C", "大阪市北区"),
            [
                (Org.SMRJ, R.LARGER_SME_HANDS_ON, (T.IT_DIGITAL, T.BOOKKEEPING)),
                (Org.SHOKO_KAIGISHO, R.PARTNER_PAPERWORK, (T.BOOKKEEPING,)),
            ],
            id="zone C hand-over leads other suggestions",
        ),
        pytest.param(
            HandoverCase(frozenset({T.LABOUR_INSURANCE}), "A", None),
            [
                (Org.SHOKO_KAIGISHO, R.PARTNER_PAPERWORK, (T.LABOUR_INSURANCE,)),
                (Org.SHOKOKAI, R.PARTNER_PAPERWORK, (T.LABOUR_INSURANCE,)),
            ],
            id="unknown municipality offers both local kinds",
        ),
        pytest.param(
            HandoverCase(frozenset({T.IT_DIGITAL, T.PRODUCT_DEVELOPMENT}), "A", "町田市"),
            [],
            id="what the hub does itself suggests nothing",
        ),
    ],
)
def test_suggest_handovers(
    case: HandoverCase, expected: list[tuple[Org, R, tuple[T, ...]]]
) -> None:
    assert _summary(case) == expected
