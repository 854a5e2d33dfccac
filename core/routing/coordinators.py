"""Who should take a case: coordinators ranked for the case's topics.

Order: how many of the case's topics a coordinator covers, then who is free soonest, then
who carries the lightest load, then co_id so two runs never disagree. A hub that has no
one for the topics may ask another hub's coordinator (DOMAIN.md: shared CO directory);
HQ's specialists come after the hubs', since they exist for needs no hub can meet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fractions import Fraction
from typing import Literal

from core.domain.topics import TOPIC_SPECIALTIES, Specialty, Topic, topics_covered
from core.routing.hubs import HQ_CODE


@dataclass(frozen=True, slots=True)
class CoCandidate:
    """A coordinator as ranking sees them; ``next_free_slot`` must be timezone-aware."""

    co_id: str
    hub_code: str
    role: Literal["co", "cco"]
    specialties: frozenset[Specialty]
    open_cases: int
    capacity: int
    next_free_slot: datetime | None
    active: bool = True

    def __post_init__(self) -> None:
        if self.open_cases < 0 or self.capacity < 0:
            raise ValueError(f"{self.co_id}: open cases and capacity cannot be negative")
        slot = self.next_free_slot
        if slot is not None and slot.utcoffset() is None:
            # A naive time cannot be compared with aware ones: ranking would crash later.
            raise ValueError(f"{self.co_id}: next_free_slot must be timezone-aware")

    @property
    def has_room(self) -> bool:
        return self.active and self.open_cases < self.capacity


class RankReason(StrEnum):
    COVERS_TOPICS = "covers_topics"
    GENERALIST = "generalist"
    """Covers none of the topics, but can still hear the owner."""
    OTHER_HUB = "other_hub"
    """The UI says "ask another hub": this coordinator's hub must agree first."""
    HQ_SPECIALIST = "hq_specialist"
    NO_FREE_SLOT_KNOWN = "no_free_slot_known"


@dataclass(frozen=True, slots=True)
class RankedCo:
    candidate: CoCandidate
    covered_topics: tuple[Topic, ...]
    cross_hub: bool
    reasons: tuple[RankReason, ...]


def _rank_key(
    candidate: CoCandidate, covered: int
) -> tuple[int, bool, datetime | None, Fraction, str]:
    slot = candidate.next_free_slot
    load = Fraction(candidate.open_cases, candidate.capacity)
    # (slot is None) first, so an unknown slot sorts after every known one and None is
    # never compared with a datetime.
    return (-covered, slot is None, slot, load, candidate.co_id)


def _ranked(
    candidates: list[CoCandidate], topics: frozenset[Topic], case_hub: str
) -> list[RankedCo]:
    scored = [(c, topics_covered(topics, c.specialties)) for c in candidates]
    scored.sort(key=lambda pair: _rank_key(pair[0], len(pair[1])))
    ranked = []
    for candidate, covered in scored:
        cross_hub = candidate.hub_code != case_hub
        reasons = [RankReason.COVERS_TOPICS if covered else RankReason.GENERALIST]
        if cross_hub:
            hq = candidate.hub_code == HQ_CODE
            reasons.append(RankReason.HQ_SPECIALIST if hq else RankReason.OTHER_HUB)
        if candidate.next_free_slot is None:
            reasons.append(RankReason.NO_FREE_SLOT_KNOWN)
        ranked.append(
            RankedCo(
                candidate=candidate,
                covered_topics=tuple(t for t in Topic if t in covered),
                cross_hub=cross_hub,
                reasons=tuple(reasons),
            )
        )
    return ranked


def rank_coordinators(
    case_hub: str, topics: frozenset[Topic], candidates: list[CoCandidate]
) -> list[RankedCo]:
    """Coordinators with room, best first; empty when nobody can take the case.

    Inactive and full coordinators are left out: offering them only makes the CCO
    reassign later. In-hub coordinators who cover none of the topics stay on the list
    (after everyone who covers one) because any coordinator can hear an owner. Other
    hubs' and HQ's coordinators appear only when nobody in the case's hub covers a topic,
    and then only those who cover one.
    """
    with_room = [c for c in candidates if c.has_room]
    home = [c for c in with_room if c.hub_code == case_hub]
    home_ranked = _ranked(home, topics, case_hub)
    if any(r.covered_topics for r in home_ranked):
        return home_ranked
    if not any(TOPIC_SPECIALTIES[t] for t in topics):
        return home_ranked
    away = [
        c for c in with_room if c.hub_code != case_hub and topics_covered(topics, c.specialties)
    ]
    hubs = _ranked([c for c in away if c.hub_code != HQ_CODE], topics, case_hub)
    hq = _ranked([c for c in away if c.hub_code == HQ_CODE], topics, case_hub)
    return hubs + hq + home_ranked
