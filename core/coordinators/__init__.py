"""The coordinators' side of a case: the hub queue card, claiming, assigning, transferring,
recording the outcome, handing back to a partner (橋渡し) and asking another hub.

Everything here is channel-neutral: Slack (bots/slack/coordinators.py) only translates
buttons and modals into these calls, so the same rules hold for the App Home and the web.
"""

from core.coordinators.cards import card_key, post_queue_card, queue_card_message
from core.coordinators.outcome import Outcome, OutcomeForm, validate_outcome

__all__ = [
    "Outcome",
    "OutcomeForm",
    "card_key",
    "post_queue_card",
    "queue_card_message",
    "validate_outcome",
]
