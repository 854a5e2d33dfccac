"""Follow, consent, unfollow and erasure: the owner's first and last steps.

Nothing personal is collected before consent (APPI: purpose stated at collection, link to
the notice in the greeting). Consent is recorded with the notice version so a later notice
can ask again. Unfollow stops everything at once, including pushes already queued
(invariant 8); erasure blanks personal data but keeps the rows that counts are made of.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core import erasure
from core.db.models import ChannelIdentity, ConsentRecord, Person
from core.domain.enums import ConsentNotice, Platform
from core.i18n import Text
from core.i18n.catalog import resolve_locale
from core.messages import Action, OutgoingMessage
from core.outbox import store as outbox
from core.owners import postbacks
from core.owners.events import OwnerEvent, OwnerEventKind
from core.privacy.slack import SlackErasure

if TYPE_CHECKING:
    from core.owners.context import OwnerContext

PRIVACY_NOTICE_VERSION = "2026-04"
REPLY_TOKEN_LIFETIME = timedelta(seconds=50)
"""LINE's tokens live about a minute from the event; we stop trusting them a little earlier."""
DELETE_WORDS = frozenset({"データを削除", "データ削除", "削除して", "delete my data"})


@dataclass(frozen=True)
class ChannelContext:
    """What the handlers need to know about the account the owner wrote to."""

    channel_key: str
    hub_id: int | None
    hub_name: Text
    privacy_url: str
    national: bool
    slack_erasure: SlackErasure = SlackErasure.UPDATE
    """What an erasure does to the Slack messages about the owner (SLACK_ERASURE)."""


@dataclass
class Owner:
    person: Person
    identity: ChannelIdentity
    consented: bool

    @property
    def locale(self) -> str:
        return self.person.locale


_EARLIER = aliased(ConsentRecord, name="earlier_consent")
_LATEST_PRIVACY_CONSENT = (
    select(_EARLIER.id)
    .where(
        _EARLIER.person_id == ChannelIdentity.person_id,
        _EARLIER.notice == ConsentNotice.PRIVACY,
    )
    .order_by(_EARLIER.given_at.desc(), _EARLIER.id.desc())
    .limit(1)
    .correlate(ChannelIdentity)
    .scalar_subquery()
)
_FIND_OWNER = (
    select(ChannelIdentity, Person, ConsentRecord.given, ConsentRecord.withdrawn_at)
    .join(Person, Person.id == ChannelIdentity.person_id)
    .outerjoin(ConsentRecord, ConsentRecord.id == _LATEST_PRIVACY_CONSENT)
    .where(
        ChannelIdentity.platform == Platform.LINE,
        ChannelIdentity.channel_id == bindparam("channel_key"),
        ChannelIdentity.external_user_id == bindparam("user_id"),
    )
)
"""The owner behind a LINE user, with their latest privacy consent, in one statement built
once: every LINE event starts with it (issue 14 measured three queries here)."""


async def find_owner(session: AsyncSession, channel_key: str, user_id: str) -> Owner | None:
    found = (
        await session.execute(_FIND_OWNER, {"channel_key": channel_key, "user_id": user_id})
    ).first()
    if found is None:
        return None
    identity, person, given, withdrawn_at = found
    return Owner(person, identity, consented=bool(given) and withdrawn_at is None)


async def find_or_create_owner(session: AsyncSession, event: OwnerEvent) -> Owner:
    owner = await find_owner(session, event.channel_key, event.user_id)
    if owner is not None:
        return owner
    person = Person(locale=resolve_locale(event.language))
    session.add(person)
    await session.flush()
    identity = ChannelIdentity(
        person_id=person.id,
        platform=Platform.LINE,
        channel_id=event.channel_key,
        external_user_id=event.user_id,
        followed=True,
        created_at=event.received_at,
    )
    session.add(identity)
    await session.flush()
    return Owner(person, identity, consented=False)


async def has_consented(session: AsyncSession, person_id: int) -> bool:
    latest = await session.scalar(
        select(ConsentRecord)
        .where(ConsentRecord.person_id == person_id, ConsentRecord.notice == ConsentNotice.PRIVACY)
        .order_by(ConsentRecord.given_at.desc(), ConsentRecord.id.desc())
        .limit(1)
    )
    return bool(latest and latest.given and latest.withdrawn_at is None)


def consent_request(channel: ChannelContext, *, greet: bool) -> OutgoingMessage:
    texts: list[Text] = []
    if greet:
        texts.append(Text("owner.greeting", hub=channel.hub_name))
    texts.append(Text("owner.privacy_notice", url=channel.privacy_url))
    texts.append(Text("owner.consent.question"))
    return OutgoingMessage(
        texts=tuple(texts),
        choices=(
            Action(Text("owner.consent.agree"), postbacks.encode(postbacks.CONSENT_AGREE)),
            Action(Text("owner.consent.decline"), postbacks.encode(postbacks.CONSENT_DECLINE)),
        ),
    )


def menu_hint() -> OutgoingMessage:
    return OutgoingMessage(texts=(Text("owner.menu_hint"),))


async def on_follow(ctx: OwnerContext) -> None:
    owner = ctx.owner
    if ctx.event.language:
        # The LINE app's language decides ours: Japanese unless the owner reads English.
        owner.person.locale = resolve_locale(ctx.event.language)
    returning = owner.identity.unfollowed_at is not None or owner.consented
    owner.identity.followed = True
    owner.identity.unfollowed_at = None
    if owner.consented:
        ctx.say(
            OutgoingMessage(
                texts=(
                    Text("owner.welcome_back", hub=ctx.channel.hub_name),
                    Text("owner.menu_hint"),
                )
            )
        )
        return
    message = consent_request(ctx.channel, greet=True)
    if returning:
        message = OutgoingMessage(
            texts=(Text("owner.welcome_back", hub=ctx.channel.hub_name), *message.texts[1:]),
            choices=message.choices,
        )
    ctx.say(message)


async def on_unfollow(session: AsyncSession, event: OwnerEvent) -> None:
    """Blocked: nothing more goes to this person, including what is already queued."""
    owner = await find_owner(session, event.channel_key, event.user_id)
    if owner is not None:
        owner.identity.followed = False
        owner.identity.unfollowed_at = event.occurred_at
    await outbox.cancel_for_recipient(session, event.channel_key, event.user_id)


async def record_consent(
    session: AsyncSession, owner: Owner, *, given: bool, now: datetime
) -> None:
    session.add(
        ConsentRecord(
            person_id=owner.person.id,
            notice=ConsentNotice.PRIVACY,
            version=PRIVACY_NOTICE_VERSION,
            channel="line",
            given=given,
            given_at=now,
        )
    )
    owner.consented = given
    await session.flush()


async def erase_person(
    session: AsyncSession,
    owner: Owner,
    event: OwnerEvent,
    now: datetime,
    slack: SlackErasure = SlackErasure.UPDATE,
) -> None:
    """Erase personal data on request (APPI); counts and anonymous aggregates stay.

    Everything personal tied to the person goes (core.erasure): names and contacts, their
    LINE user id (a tombstone replaces it, so writing again starts afresh), dialogs,
    self-checks, the free text of their cases, their survey comments, the raw events they
    sent and the messages sent to them; waiting messages are cancelled, consents withdrawn,
    and an audit row with ids and counts only records it. The rows stay.
    """
    await erasure.erase_person(
        session, owner.person.id, now=now, reason=erasure.ErasureReason.REQUEST, slack=slack
    )
    owner.consented = False


def is_delete_request(text: str | None) -> bool:
    return bool(text) and text.strip().lower() in DELETE_WORDS  # type: ignore[union-attr]


async def handle_onboarding(ctx: OwnerContext) -> bool:
    """Answer what needs no conversation; True when the event was fully handled here.

    Follow, consent, erasure, and anything from someone who has not consented yet (who is
    asked for consent again: nothing personal is taken before it).
    """
    event, owner = ctx.event, ctx.owner
    if event.kind is OwnerEventKind.FOLLOW:
        await on_follow(ctx)
        return True
    action, _values = postbacks.decode(event.data)
    if action == postbacks.CONSENT_AGREE:
        await record_consent(ctx.session, owner, given=True, now=ctx.now)
        ctx.say(OutgoingMessage(texts=(Text("owner.consent.thanks"), Text("owner.menu_hint"))))
        return True
    if action == postbacks.CONSENT_DECLINE:
        await record_consent(ctx.session, owner, given=False, now=ctx.now)
        ctx.say(OutgoingMessage(texts=(Text("owner.consent.declined"),)))
        return True
    if event.kind is OwnerEventKind.TEXT and is_delete_request(event.text):
        ctx.say(
            OutgoingMessage(
                texts=(Text("owner.delete.confirm"),),
                choices=(
                    Action(Text("owner.delete.yes"), postbacks.encode(postbacks.DELETE_CONFIRM)),
                    Action(Text("owner.delete.no"), postbacks.encode(postbacks.DELETE_KEEP)),
                ),
            )
        )
        return True
    if action == postbacks.DELETE_CONFIRM:
        await erase_person(ctx.session, owner, event, ctx.now, ctx.channel.slack_erasure)
        ctx.say(OutgoingMessage(texts=(Text("owner.delete.done"),)))
        return True
    if action == postbacks.DELETE_KEEP:
        ctx.say(OutgoingMessage(texts=(Text("owner.delete.kept"), Text("owner.menu_hint"))))
        return True
    if not owner.consented:
        ctx.say(consent_request(ctx.channel, greet=False))
        return True
    return False
