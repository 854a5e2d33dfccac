"""The kinds of support organisation a case can be handed to or received from.

Hand-overs run both ways (partners つなぐ to the hub, the hub 橋渡し back), so the kind is
shared by routing, referrals and the numbers the national dashboard counts.
"""

from __future__ import annotations

from enum import StrEnum


class OrganisationKind(StrEnum):
    SHOKOKAI = "shokokai"
    """商工会: towns and villages (町村)."""
    SHOKO_KAIGISHO = "shoko_kaigisho"
    """商工会議所: cities (市) and Tokyo's 23 wards."""
    SMRJ = "smrj"
    """中小機構 hands-on support for larger SMEs (zone C)."""
    BANK = "bank"
    CREDIT_GUARANTEE = "credit_guarantee"
    """信用保証協会."""
    OTHER = "other"
