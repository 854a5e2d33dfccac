"""Between the conversation engine and the owner: replies out, taps and words in.

The engine speaks in `Reply` values and plain input strings; LINE speaks in postbacks. A
choice posts back its value under the action "conv", a date picker posts back the chosen
date, so the engine never sees LINE's shapes and the renderer never sees the engine's.
"""

from __future__ import annotations

from core.conversation import Command, QuestionKind, Reply
from core.i18n import Text
from core.messages import Action, DatePicker, OutgoingMessage, PickerMode
from core.owners import postbacks
from core.owners.events import OwnerEvent, OwnerEventKind

CONVERSATION_ACTION = "conv"
QUICK_REPLY_LIMIT = 13


def conversation_postback(value: str) -> str:
    return postbacks.encode(CONVERSATION_ACTION, v=value)


def message_for(reply: Reply) -> OutgoingMessage:
    """A conversation reply as a neutral message: choices become tappable actions.

    Back and cancel are offered as taps when they fit LINE's 13 quick-reply items; people can
    always type 戻る or やめる as well.
    """
    actions = [
        Action(choice.label, conversation_postback(choice.value)) for choice in reply.choices
    ]
    extras: list[Action] = []
    if reply.allow_back:
        extras.append(
            Action(Text("conversation.command.back"), conversation_postback(Command.BACK))
        )
    if reply.allow_cancel:
        extras.append(
            Action(Text("conversation.command.cancel"), conversation_postback(Command.CANCEL))
        )
    if len(actions) + len(extras) <= QUICK_REPLY_LIMIT:
        actions.extend(extras)
    picker = None
    if reply.kind is QuestionKind.DATE:
        picker = DatePicker(
            label=Text("owner.pick_date"),
            data=conversation_postback("__date__"),
            mode=PickerMode.date,
        )
    return OutgoingMessage(texts=reply.texts, choices=tuple(actions), picker=picker)


def conversation_input(event: OwnerEvent) -> str | None:
    """What the owner said to the current question, or None if the event says nothing to it."""
    if event.kind is OwnerEventKind.TEXT:
        return event.text or ""
    if event.kind is OwnerEventKind.POSTBACK:
        action, values = postbacks.decode(event.data)
        if action != CONVERSATION_ACTION:
            return None
        if values.get("v") == "__date__":
            return event.params.get("date") or event.params.get("datetime", "")[:10]
        return values.get("v", "")
    return None
