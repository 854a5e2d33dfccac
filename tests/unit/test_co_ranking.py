"""Coordinators are offered best first: topics covered, then free soonest, then least loaded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.domain.topics import Specialty as S
from core.domain.topics import Topic as T
from core.routing.coordinators import CoCandidate, RankReason, rank_coordinators
from core.routing.hubs import HQ_CODE

MONDAY = datetime(2026, 4, 6, 1, 0, tzinfo=UTC)
HUB = "13"


def co(
    co_id: str,
    *specialties: S,
    hub: str = HUB,
    open_cases: int = 0,
    capacity: int = 10,
    free_in_days: int | None = 1,
    active: bool = True,
) -> CoCandidate:
    slot = None if free_in_days is None else MONDAY + timedelta(days=free_in_days)
    return CoCandidate(
        co_id=co_id,
        hub_code=hub,
        role="co",
        specialties=frozenset(specialties),
        open_cases=open_cases,
        capacity=capacity,
        next_free_slot=slot,
        active=active,
    )


@pytest.mark.parametrize(
    ("topics", "candidates", "expected_order"),
    [
        pytest.param(
            {T.IT_DIGITAL, T.FINANCE},
            [co("one", S.IT), co("both", S.IT, S.FINANCE), co("none", S.DESIGN)],
            ["both", "one", "none"],
            id="more topics covered wins",
        ),
        pytest.param(
            {T.IT_DIGITAL},
            [co("later", S.IT, free_in_days=5), co("sooner", S.IT, free_in_days=2)],
            ["sooner", "later"],
            id="then earliest free slot",
        ),
        pytest.param(
            {T.IT_DIGITAL},
            [co("unknown", S.IT, free_in_days=None), co("known", S.IT, free_in_days=30)],
            ["known", "unknown"],
            id="an unknown slot comes after any known one",
        ),
        pytest.param(
            {T.IT_DIGITAL},
            [co("busy", S.IT, open_cases=6, capacity=8), co("light", S.IT, open_cases=5)],
            ["light", "busy"],
            id="then lowest load ratio, not fewest cases",
        ),
        pytest.param(
            {T.IT_DIGITAL},
            [co("b", S.IT), co("c", S.IT), co("a", S.IT)],
            ["a", "b", "c"],
            id="full tie broken by co_id",
        ),
        pytest.param(
            {T.IT_DIGITAL},
            [
                co("full", S.IT, open_cases=10),
                co("zero", S.IT, capacity=0),
                co("gone", S.IT, active=False),
                co("ok", S.IT, open_cases=9),
            ],
            ["ok"],
            id="inactive and full coordinators are left out",
        ),
        pytest.param(
            {T.OTHER},
            [co("late", S.IT, free_in_days=3), co("early", S.DESIGN), co("far", S.IT, hub="14")],
            ["early", "late"],
            id="a topic no specialty serves stays in the hub",
        ),
        pytest.param(
            {T.IT_DIGITAL},
            [],
            [],
            id="nobody at all",
        ),
    ],
)
def test_ranking_order(
    topics: set[T], candidates: list[CoCandidate], expected_order: list[str]
) -> None:
    ranked = rank_coordinators(HUB, frozenset(topics), candidates)
    assert [r.candidate.co_id for r in ranked] == expected_order


def test_in_hub_specialist_keeps_the_case_in_the_hub() -> None:
    candidates = [co("home", S.IT), co("osaka", S.IT, S.FINANCE, hub="27")]
    ranked = rank_coordinators(HUB, frozenset({T.IT_DIGITAL, T.FINANCE}), candidates)
    assert [(r.candidate.co_id, r.cross_hub) for r in ranked] == [("home", False)]


def test_without_an_in_hub_specialist_other_hubs_then_hq_then_home_generalists() -> None:
    candidates = [
        co("home-generalist", S.DESIGN),
        co("hq-both", S.IT, S.FINANCE, hub=HQ_CODE),
        co("osaka-it", S.IT, hub="27"),
        co("kyoto-both", S.IT, S.FINANCE, hub="26", free_in_days=9),
        co("nagoya-design", S.DESIGN, hub="23"),
        co("fukuoka-full", S.IT, hub="40", open_cases=10),
    ]
    ranked = rank_coordinators(HUB, frozenset({T.IT_DIGITAL, T.FINANCE}), candidates)
    assert [(r.candidate.co_id, r.cross_hub, r.reasons) for r in ranked] == [
        ("kyoto-both", True, (RankReason.COVERS_TOPICS, RankReason.OTHER_HUB)),
        ("osaka-it", True, (RankReason.COVERS_TOPICS, RankReason.OTHER_HUB)),
        ("hq-both", True, (RankReason.COVERS_TOPICS, RankReason.HQ_SPECIALIST)),
        ("home-generalist", False, (RankReason.GENERALIST,)),
    ]


def test_ranked_entries_say_which_topics_are_covered() -> None:
    ranked = rank_coordinators(
        HUB,
        frozenset({T.TAX, T.IT_DIGITAL, T.LABOUR}),
        [co("x", S.ACCOUNTING, S.IT, free_in_days=None)],
    )
    assert ranked[0].covered_topics == (T.IT_DIGITAL, T.TAX)
    assert ranked[0].reasons == (RankReason.COVERS_TOPICS, RankReason.NO_FREE_SLOT_KNOWN)


def test_hq_case_falls_back_to_prefectural_hubs() -> None:
    ranked = rank_coordinators(
        HQ_CODE, frozenset({T.TAX}), [co("hq", S.IT, hub=HQ_CODE), co("tokyo", S.ACCOUNTING)]
    )
    assert [(r.candidate.co_id, r.cross_hub) for r in ranked] == [("tokyo", True), ("hq", False)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"capacity": -1}, "negative"),
        ({"open_cases": -2}, "negative"),
        ({"next_free_slot": datetime(2026, 4, 6, 10, 0)}, "timezone-aware"),
    ],
)
def test_impossible_candidates_are_refused(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "co_id": "x",
        "hub_code": HUB,
        "role": "cco",
        "specialties": frozenset(),
        "open_cases": 0,
        "capacity": 5,
        "next_free_slot": None,
    }
    with pytest.raises(ValueError, match=message):
        CoCandidate(**{**fields, **changes})  # type: ignore[arg-type]
