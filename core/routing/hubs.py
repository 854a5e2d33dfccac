"""Which hub's queue a new case lands in.

The business's prefecture decides, because each hub serves its own prefecture. When the
owner has not said where the business is, the LINE channel they came through is the best
guess; the national channel gives no hint, so such cases go to HQ intake rather than
being dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from core.routing.prefectures import BY_CODE, prefecture_code

HQ_CODE: Final = "00"
"""The national HQ (全国本部); it has no prefecture, so "00" cannot clash with a hub."""


class RouteReason(StrEnum):
    BUSINESS_PREFECTURE = "business_prefecture"
    CHANNEL_HUB = "channel_hub"
    HQ_INTAKE = "hq_intake"


@dataclass(frozen=True, slots=True)
class RouteDecision:
    hub_code: str
    reason: RouteReason


def route_to_hub(prefecture: str | None, channel_hub_code: str | None) -> RouteDecision:
    """Pick the hub for a case; the reason lets HQ see how many cases arrive unplaced.

    ``prefecture`` is whatever the owner gave (code or name); text that names no
    prefecture counts as unknown. ``channel_hub_code`` is the hub owning the LINE channel,
    or None / HQ_CODE for the national channel.

    Raises ValueError for a channel hub code that is no hub: that is a configuration
    mistake, and guessing would send owners to the wrong prefecture.
    """
    channel_hub = None if channel_hub_code == HQ_CODE else channel_hub_code
    if channel_hub is not None and channel_hub not in BY_CODE:
        raise ValueError(f"channel hub code {channel_hub!r} is not a hub")
    code = prefecture_code(prefecture) if prefecture is not None else None
    if code is not None:
        return RouteDecision(code, RouteReason.BUSINESS_PREFECTURE)
    if channel_hub is not None:
        return RouteDecision(channel_hub, RouteReason.CHANNEL_HUB)
    return RouteDecision(HQ_CODE, RouteReason.HQ_INTAKE)
