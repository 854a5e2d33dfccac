"""Partner staff and the hub: cases handed over (つなぐ) and what became of them.

`handover` holds the rules of a hand-over (the form, 名寄せ against open cases, what is
written); `status` tells the referring staff member each step of the case, no more than the
owner's consent allows.
"""

from core.partners.handover import (
    HandoverField,
    HandoverForm,
    HandoverOutcome,
    RawHandover,
    Urgency,
    hand_over,
    validate_handover,
)
from core.partners.status import OpenHandover, ReferrerStep, notify_referrer, open_handovers

__all__ = [
    "HandoverField",
    "HandoverForm",
    "HandoverOutcome",
    "OpenHandover",
    "RawHandover",
    "ReferrerStep",
    "Urgency",
    "hand_over",
    "notify_referrer",
    "open_handovers",
    "validate_handover",
]
