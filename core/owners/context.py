"""Everything a handler of one owner event needs, and the one answer it builds.

An event gets at most one answer request: LINE reply tokens work once and take up to five
messages, so handlers `say()` what they have to say and the context writes it to the outbox
as one row when the event is done (or as a push if the token is gone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.conversation import ConversationKey, SessionConversationStore
from core.domain.enums import Platform
from core.messages import OutgoingMessage
from core.owners.events import OwnerEvent
from core.owners.onboarding import ChannelContext, Owner
from core.queues.port import HubQueue

MAX_MESSAGES_PER_ANSWER = 5


@dataclass
class OwnerContext:
    session: AsyncSession
    event: OwnerEvent
    owner: Owner
    channel: ChannelContext
    now: datetime
    queue: HubQueue | None = None
    said: list[OutgoingMessage] = field(default_factory=list)

    @property
    def locale(self) -> str:
        return self.owner.locale

    @property
    def conversations(self) -> SessionConversationStore:
        return SessionConversationStore(self.session)

    @property
    def conversation_key(self) -> ConversationKey:
        return ConversationKey(Platform.LINE.value, self.event.channel_key, self.event.user_id)

    def say(self, message: OutgoingMessage) -> None:
        """Queue a message for this event's answer (at most five per answer, as LINE allows)."""
        if len(self.said) >= MAX_MESSAGES_PER_ANSWER:
            raise ValueError("an answer holds at most five messages")
        self.said.append(message)
