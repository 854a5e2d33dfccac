"""名寄せ: recognising one business behind several records.

The national dashboard counts businesses after de-duplication, and a CO who sees two cards
for one bakery loses its history; merging two bakeries is worse, so every rule here errs
towards keeping records apart.
"""

from core.dedup.matching import (
    BusinessFacts,
    Match,
    MatchReason,
    MatchVerdict,
    compare,
    find_match,
    name_key,
)

__all__ = [
    "BusinessFacts",
    "Match",
    "MatchReason",
    "MatchVerdict",
    "compare",
    "find_match",
    "name_key",
]
