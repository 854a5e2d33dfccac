"""The dispatcher role: claim due outbox rows, render, send, record (invariant 4).

One loop: `claim` (status sending + lease, committed) → render the neutral message in the
recipient's language (bots/) → send (integrations/) → record the result in a new transaction,
fenced by the lease. A dispatcher killed between send and record loses nothing: its rows come
back when the lease expires and go out again with the same retry key (LINE answers 409, which
counts as sent), or, for a reply whose token our first attempt used, LINE answers "Invalid
reply token" while the token is surely still fresh, which also counts as sent.

Rate limits are token buckets per destination; a row that would exceed one is given back with a
due time instead of holding the loop (no sleeping). Logs carry hashed recipient ids only and
never message text (invariant 9).

Before a batch is sent, owner pushes (LINE rows other than replies and rich menu links) pass a
gate, recorded in one transaction (invariant 7, issue 7):

* a row whose `stale_after` (a neutral message's meta) has passed, or that could only go out
  after it, is dropped and recorded as failed with reason "stale";
* a row more than PUSH_GRACE_HOURS late (the dispatcher was down) is recorded as "missed";
  both are broken promises: counted in `yorozu_owner_pushes_undelivered_total` by kind and
  reason, logged as errors, and listed in the CCO's morning note (core.undelivered);
* a row due outside its hub's push window (08:00-21:00 every day by default; closed days do
  not hold owners' pushes) is given back, due at the window's next opening: it waits, it is
  not dropped. Planned rows are already inside the window (core.push_window), so this
  catches only what was queued at night or held up;
* a channel's monthly budget is spent by priority (core.push_budget): what does not fit is held
  (status held, reason push_budget) until the month changes, and the CCO is told once a month
  when most of it is spent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.line.render import render_line
from bots.slack.render import render_slack
from core import push_budget
from core.chat.attachments import MAX_ATTACHMENT_BYTES, SLACK_FILE_KIND
from core.clock import Clock, SystemClock, to_jst
from core.coordinators.cards import SLACK_TEAM
from core.db.models import Hub, LineChannel
from core.db.models.outbox import OutboxMessage
from core.db.models.richmenus import deployed_menu_ids
from core.db.session import unit_of_work
from core.domain.enums import OutboxStatus, Platform
from core.hub_calendar import DEFAULT_CALENDAR, HubCalendar, hub_calendars
from core.i18n import Catalog, Text
from core.messages import OutgoingMessage, decode_message
from core.notify import warn_push_budget
from core.outbox import policy, store
from core.outbox.gate import STALE, Drop, Verdict, Wait, owner_push_verdict
from core.outbox.policy import (
    Decision,
    HeldForBudget,
    Permanent,
    Retry,
    SendOutcome,
    Sent,
    TokenSpent,
)
from core.outbox.store import ClaimedMessage
from core.privacy.slack import DELETE_KIND, FILE_DELETE_KIND, UPDATE_KIND
from core.workspaces import DISCONNECTED, NOT_INSTALLED, Workspace, hub_workspaces, tell_hq_and_cco
from integrations.line.client import LineSender
from integrations.line.content import LineContent
from integrations.line.richmenu_client import RichMenuClient
from integrations.ratelimit import RateLimiter
from integrations.slack.client import SlackSender, outbox_metadata
from yorozu.bootstrap import Container
from yorozu.channels import DEFAULT_CHANNEL, channel_access_token, channel_keys
from yorozu.heartbeat import beat
from yorozu.logs import hash_user_id
from yorozu.slack_tokens import SlackTokens, installation_store

log = logging.getLogger(__name__)

LOCALE_TTL_SECONDS = 86_400.0
"""A Slack user's language is read again after a day (people rarely change it)."""
LOCALE_RETRY_SECONDS = 300.0
REPLY_TOKEN_LIFE = timedelta(seconds=60)
"""LINE's reply token lives about a minute; used to estimate when it was received."""

MAX_PACE_WAIT_SECONDS = 0.5
HISTORY_MARGIN = timedelta(seconds=10)
"""A look-up starts this long before the first attempt: the clocks of Slack and ours differ."""
SLACK_POST_KINDS_EXCLUDED = frozenset({"slack_home", UPDATE_KIND, DELETE_KIND, FILE_DELETE_KIND})


@dataclass
class DispatchReport:
    """What one `run_once` did (for tests, benchmarks and the loop's pacing)."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    held: int = 0
    cancelled: int = 0
    deferred: int = 0
    quiet: int = 0
    """Owner pushes given back to wait for the push window to open."""
    stale: int = 0
    missed: int = 0
    lost_lease: int = 0
    routes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Result:
    decision: Decision | None
    """None: the row was given back untouched (a rate limit said wait)."""
    route: str
    """reply, push, slack, or none."""
    defer_for: float = 0.0
    limiter_key: str | None = None


def _time_source(clock: Clock) -> Callable[[], float]:
    if isinstance(clock, SystemClock):
        return time.monotonic
    return lambda: clock.now().timestamp()


class Dispatcher:
    """The claim → send → record cycle; `run_once` does one batch."""

    def __init__(
        self,
        container: Container,
        *,
        batch: int = 200,
        lease: timedelta = timedelta(seconds=30),
        concurrency: int = 64,
        line: LineSender | None = None,
        slack: SlackSender | None = None,
        limiter: RateLimiter | None = None,
        rng: random.Random | None = None,
        catalog: Catalog | None = None,
        tokens: SlackTokens | None = None,
    ) -> None:
        settings = container.settings
        self.container = container
        self.clock = container.clock
        self.metrics = container.metrics
        self.batch = batch
        self.lease = lease
        self.concurrency = max(1, concurrency)
        timeout = container.settings.send_timeout_seconds
        self.line = line or LineSender(str(settings.line_api_base_url), timeout=timeout)
        self.line_content = LineContent(str(settings.line_data_api_base_url))
        self._slack_locales: dict[str, tuple[str, float]] = {}
        self._dm_channels: dict[str, str] = {}
        """A user id → the id of the app's DM with them (conversations.open)."""
        """Slack user id -> (the language their DMs are written in, until when it holds)."""
        self.slack = slack or SlackSender(
            str(settings.slack_api_base_url),
            settings.slack_bot_token.get_secret_value(),
            timeout=max(1, int(timeout)),
        )
        self.tokens = tokens or SlackTokens(
            settings,
            installation_store=installation_store(
                settings, container.engine, container.session_factory, container.clock
            ),
            client=self.slack.client,  # its connection pool (auth.test, token rotation)
        )
        self._workspaces: dict[int, Workspace] = {}
        self._menus: dict[str, dict[str, str]] = {}
        """A LINE channel -> its deployed rich menus (menu key -> richMenuId), read once per
        batch for the channels whose rows link one."""
        self.limiter = limiter or RateLimiter(time_source=_time_source(self.clock))
        self._real_time = isinstance(self.clock, SystemClock)
        self._rich_menus: dict[str, RichMenuClient] = {}
        if limiter is None:
            line_rate = settings.line_rate_per_second
            slack_rate = settings.slack_rate_per_second
            # A tenth of a second of burst: over any second the cap holds, as LINE measures it.
            self.limiter.configure("line:", line_rate, max(1.0, line_rate / 10))
            method_rate = settings.slack_method_rate_per_minute
            history_rate = settings.slack_history_rate_per_minute
            self.limiter.configure("slack:", method_rate / 60, method_rate)
            self.limiter.configure("slack:post:", slack_rate, 1)
            self.limiter.configure("slack:history:", history_rate / 60, max(1.0, history_rate))
        self.rng = rng or random.Random()
        self.catalog = catalog or Catalog.load()
        self._default_line_token = settings.line_channel_access_token.get_secret_value()
        self._line_tokens: dict[str, str] = {}
        self.grace = timedelta(hours=settings.push_grace_hours)
        self._budget_warned: set[tuple[str, str]] = set()

    # -- the cycle ------------------------------------------------------------------------

    async def run_once(self) -> DispatchReport:
        """Claim one batch of due rows, send them (concurrently, one per recipient), record."""
        report = DispatchReport()
        async with unit_of_work(self.container.session_factory) as session:
            claimed = await store.claim(
                session, now=self.clock.now(), lease=self.lease, limit=self.batch
            )
        report.claimed = len(claimed.messages)
        report.cancelled = claimed.cancelled
        if claimed.cancelled:
            log.info(
                "outbox messages cancelled: recipient unfollowed",
                extra={"count": claimed.cancelled},
            )
        if not claimed.messages:
            return report
        messages = await self._gate(claimed.messages, report)
        if not messages:
            return report
        slack_hubs = {
            m.hub_id for m in messages if m.platform is Platform.SLACK and m.hub_id is not None
        }
        if slack_hubs and self.tokens.per_workspace:
            async with self.container.session_factory() as session:
                self._workspaces = await hub_workspaces(session, slack_hubs)
        menu_channels = {
            m.channel_id
            for m in messages
            if m.platform is Platform.LINE and m.kind == "richmenu_link"
        }
        self._menus = {}  # never an earlier batch's: a deploy since then must be seen
        if menu_channels:
            # One read for the batch: a session per link, opened while the batch's sends
            # were in flight, took a new SQLite connection for most of them (issue 14).
            async with self.container.session_factory() as session:
                self._menus = {
                    channel: await deployed_menu_ids(session, channel) for channel in menu_channels
                }
        semaphore = asyncio.Semaphore(self.concurrency)

        async def one(message: ClaimedMessage) -> tuple[ClaimedMessage, _Result]:
            async with semaphore:
                return message, await self._process(message)

        outcomes = await asyncio.gather(*(one(message) for message in messages))
        # One transaction records the whole batch: a commit per message would cap the rate
        # at the database's commit rate, and push counting would contend on one row.
        now = self.clock.now()
        pushes: dict[str, int] = {}
        async with unit_of_work(self.container.session_factory) as session:
            delivered = [
                (message, result.decision.request_id)
                for message, result in outcomes
                if isinstance(result.decision, Sent)
            ]
            sent_ids = await store.mark_sent_many(session, delivered, now=now)
            applied = [
                message.id in sent_ids
                if isinstance(result.decision, Sent)
                else await self._apply(session, message, result, now)
                for message, result in outcomes
            ]
            for (message, result), done in zip(outcomes, applied, strict=True):
                if done and isinstance(result.decision, Sent) and result.route == "push":
                    pushes[message.channel_id] = pushes.get(message.channel_id, 0) + 1
            for channel_id, count in pushes.items():
                await store.count_push(session, channel_id, now=now, n=count)
        for (message, result), done in zip(outcomes, applied, strict=True):
            self._report(message, result, done, report)
        return report

    async def _process(self, message: ClaimedMessage) -> _Result:
        try:
            return await self._send(message)
        except (ValueError, KeyError, TypeError) as exc:
            # A payload we cannot render or a catalog key that does not exist: a bug, not the
            # platform's fault; retrying would only fail again.
            log.exception("outbox message could not be rendered", extra={"outbox_id": message.id})
            return _Result(Permanent(f"render_error:{type(exc).__name__}"), "none")
        except Exception:
            log.exception("outbox send failed unexpectedly", extra={"outbox_id": message.id})
            return _Result(
                Retry(policy.backoff(message.attempts, self.rng), "internal_error"), "none"
            )

    async def _apply(
        self, session: AsyncSession, message: ClaimedMessage, result: _Result, now: datetime
    ) -> bool:
        """Record one result in the batch's transaction; False if our lease was lost."""
        decision = result.decision
        if decision is None:
            return await store.release(
                session, message, after=now + timedelta(seconds=result.defer_for)
            )
        if isinstance(decision, Sent):
            return await store.mark_sent(
                session, message, now=now, accepted_request_id=decision.request_id
            )
        if isinstance(decision, Retry):
            return await store.mark_retry(
                session,
                message,
                after=now + timedelta(seconds=decision.after),
                error=decision.reason,
            )
        if isinstance(decision, HeldForBudget):
            return await store.mark_held(session, message, reason=decision.reason)
        if isinstance(decision, Permanent):
            done = await store.mark_failed(session, message, reason=decision.reason, now=now)
            if done and decision.reason == NOT_INSTALLED and message.hub_id is not None:
                day = to_jst(now).strftime("%Y-%m-%d")
                await tell_hq_and_cco(
                    session,
                    message.hub_id,
                    "slack.workspace.not_installed",
                    now=now,
                    key=f"slack:not_installed:{message.hub_id}:{day}",
                )
            return done
        # TokenSpent never leaves _send_line
        return await store.mark_retry(session, message, after=now, error="token_spent")

    def _report(
        self, message: ClaimedMessage, result: _Result, applied: bool, report: DispatchReport
    ) -> None:
        platform = message.platform.value
        decision = result.decision
        extra = {
            "outbox_id": message.id,
            "platform": platform,
            "kind": message.kind,
            "route": result.route,
            "attempt": message.attempts,
            "recipient": hash_user_id(message.recipient),
        }
        if not applied:
            report.lost_lease += 1
            log.warning(
                "outbox lease lost before recording; another dispatcher owns the row", extra=extra
            )
            return
        report.routes[result.route] = report.routes.get(result.route, 0) + 1
        if decision is None:
            report.deferred += 1
        elif isinstance(decision, Sent):
            report.sent += 1
            self.metrics.messages_sent.labels(platform, message.kind).inc()
            if result.route == "push":
                self.metrics.line_pushes.labels(message.channel_id).inc()
            elif result.route == "reply":
                self.metrics.line_replies.labels(message.channel_id).inc()
            log.debug("outbox message sent", extra=extra)
        elif isinstance(decision, Retry):
            report.retried += 1
            self.metrics.messages_retried.labels(platform, _reason_label(decision.reason)).inc()
            log.info(
                "outbox message will be retried",
                extra={**extra, "reason": decision.reason, "after": round(decision.after, 3)},
            )
        elif isinstance(decision, HeldForBudget):
            report.held += 1
            if decision.reason == DISCONNECTED:
                log.warning("outbox message held: its Slack workspace is disconnected", extra=extra)
            else:
                log.warning("outbox message held: monthly push limit reached", extra=extra)
        elif isinstance(decision, Permanent):
            report.failed += 1
            self.metrics.messages_failed.labels(platform, _reason_label(decision.reason)).inc()
            log.warning(
                "outbox message failed permanently", extra={**extra, "reason": decision.reason}
            )

    # -- the owner-push gate (push window, staleness, grace, budget) ------------------------

    async def _gate(
        self, messages: list[ClaimedMessage], report: DispatchReport
    ) -> list[ClaimedMessage]:
        """Decide which owner pushes may go now; record the others. Answers what goes."""
        pushes = [m for m in messages if is_owner_push(m)]
        if not pushes:
            return messages
        now = self.clock.now()
        stopped: set[int] = set()
        async with unit_of_work(self.container.session_factory) as session:
            rows = {
                row_id: (hub_id, priority, not_before)
                for row_id, hub_id, priority, not_before in (
                    await session.execute(
                        select(
                            OutboxMessage.id,
                            OutboxMessage.hub_id,
                            OutboxMessage.priority,
                            OutboxMessage.not_before,
                        ).where(OutboxMessage.id.in_([m.id for m in pushes]))
                    )
                ).all()
            }
            calendars = await hub_calendars(
                session,
                [hub for hub, _, _ in rows.values() if hub is not None],
                today=to_jst(now).date(),
            )
            keys = sorted({m.channel_id for m in pushes})
            budgets = await self._budgets(session, keys)
            used = {
                key: await store.push_usage(session, key, now=now)
                for key in keys
                if budgets.get(key) is not None
            }
            ordered = sorted(pushes, key=lambda m: (rows[m.id][1], rows[m.id][2], m.id))
            for message in ordered:
                hub_id, priority, due = rows[message.id]
                calendar = calendars.get(hub_id, DEFAULT_CALENDAR) if hub_id else DEFAULT_CALENDAR
                verdict: Verdict | _Held = self._verdict(message, calendar, due, now)
                if verdict is None:
                    budget = budgets.get(message.channel_id)
                    if push_budget.may_spend(
                        priority, budget=budget, used=used.get(message.channel_id, 0)
                    ):
                        if budget is not None:
                            used[message.channel_id] += 1
                        continue
                    verdict = _HELD
                stopped.add(message.id)
                await self._record_gate(session, message, verdict, report)
            month = store.jst_month(now)
            for key, spent in used.items():
                budget = budgets[key]
                if (key, month) in self._budget_warned or not push_budget.should_warn(
                    budget=budget,
                    used=spent,
                    warn_fraction=self.container.settings.push_budget_warn_fraction,
                ):
                    continue
                assert budget is not None
                await warn_push_budget(session, key, used=spent, budget=budget, now=now)
                self._budget_warned.add((key, month))
        return [m for m in messages if m.id not in stopped]

    def _verdict(
        self, message: ClaimedMessage, calendar: HubCalendar, due: datetime, now: datetime
    ) -> Verdict:
        return owner_push_verdict(
            now=now,
            due=due,
            stale_after=_stale_after(message.payload),
            window=calendar.push_window,
            grace=self.grace,
        )

    async def _record_gate(
        self,
        session: AsyncSession,
        message: ClaimedMessage,
        verdict: Wait | Drop | _Held,
        report: DispatchReport,
    ) -> None:
        extra = {
            "outbox_id": message.id,
            "kind": message.kind,
            "recipient": hash_user_id(message.recipient),
        }
        if isinstance(verdict, Wait):
            await store.release(session, message, after=verdict.until)
            report.quiet += 1
            log.info("owner push waits for allowed hours", extra={**extra, "until": verdict.until})
        elif isinstance(verdict, _Held):
            await store.mark_held(session, message, reason=push_budget.HELD_REASON)
            report.held += 1
            log.warning("owner push held: monthly push budget", extra=extra)
        else:
            # A promise broken: counted by kind and reason, logged, and in the CCO's morning
            # note (core.undelivered), never a silent row.
            reason = verdict.reason
            await store.mark_failed(session, message, reason=reason, now=self.clock.now())
            if reason == STALE:
                report.stale += 1
            else:
                report.missed += 1
            self.metrics.messages_failed.labels("line", reason).inc()
            self.metrics.owner_pushes_undelivered.labels(message.kind, reason).inc()
            log.error("owner push recorded as %s, not sent", reason, extra=extra)

    async def _budgets(self, session: AsyncSession, keys: list[str]) -> dict[str, int | None]:
        """Each channel key's monthly push budget (None: unlimited)."""
        budgets: dict[str, int | None] = dict.fromkeys(keys)
        if DEFAULT_CHANNEL in budgets:
            budgets[DEFAULT_CHANNEL] = self.container.settings.line_monthly_push_budget
        codes = [key for key in keys if key != DEFAULT_CHANNEL]
        if codes:
            found = await session.execute(
                select(Hub.code, LineChannel.monthly_push_budget)
                .join(LineChannel, LineChannel.hub_id == Hub.id)
                .where(Hub.code.in_(codes))
            )
            for code, budget in found.all():
                budgets[code] = budget
        return budgets

    # -- sending --------------------------------------------------------------------------

    async def _send(self, message: ClaimedMessage) -> _Result:
        if message.platform is Platform.LINE and message.kind == "richmenu_link":
            return await self._link_rich_menu(message)
        if message.platform is Platform.LINE:
            return await self._send_line(message)
        return await self._send_slack(message)

    async def _link_rich_menu(self, message: ClaimedMessage) -> _Result:
        """Show an owner the per-user menu their state calls for (free: not a push).

        A channel whose menus were never deployed has nothing to link: that is recorded as a
        permanent failure with its reason, not retried (`yorozu line rich-menu deploy`).
        """
        menu = str(message.payload.get("raw", {}).get("menu", ""))
        deployed = self._menus.get(message.channel_id)
        if deployed is None:  # not read for this batch
            async with self.container.session_factory() as session:
                deployed = await deployed_menu_ids(session, message.channel_id)
        rich_menu_id = deployed.get(menu)
        if rich_menu_id is None:
            return _Result(Permanent(f"no_rich_menu_deployed:{menu}"), "none")
        wait = await self._acquire(f"line:{message.channel_id}")
        if wait > 0:
            return _Result(None, "none", defer_for=wait)
        client = self._rich_menus.get(message.channel_id)
        if client is None:
            settings = self.container.settings
            client = RichMenuClient(
                await self._line_token(message.channel_id),
                base_url=str(settings.line_api_base_url),
                data_base_url=str(settings.line_data_api_base_url),
                timeout=settings.send_timeout_seconds,
            )
            self._rich_menus[message.channel_id] = client
        outcome = await self._timed("line", client.link_user(message.recipient, rich_menu_id))
        decision = policy.classify(
            outcome, platform="line", endpoint="richmenu", attempt=message.attempts, rng=self.rng
        )
        return _Result(decision, "richmenu")

    async def _acquire(self, key: str) -> float:
        """Take a token; a short wait is waited out here when time is real.

        Handing a row back for a wait of a few milliseconds costs two transactions and a
        re-claim, which at a steady cap is most of the work; pacing in place keeps the
        dispatcher at the cap. Under a manual clock (tests, the emulator) time moves only
        when told, so rows are handed back instead.
        """
        wait = self.limiter.try_acquire(key)
        while 0 < wait <= MAX_PACE_WAIT_SECONDS and self._real_time:
            await asyncio.sleep(wait)
            wait = self.limiter.try_acquire(key)
        return wait

    async def _timed(self, platform: str, call: Any) -> SendOutcome:
        started = time.perf_counter()
        try:
            outcome: SendOutcome = await call
            return outcome
        finally:
            self.metrics.send_seconds.labels(platform).observe(time.perf_counter() - started)

    async def _send_line(self, message: ClaimedMessage) -> _Result:
        payload = message.payload
        if "raw" in payload:
            messages = list(payload["raw"]["messages"])
        else:
            messages = [
                line_message
                for neutral in _neutral_messages(payload)
                for line_message in render_line(neutral, message.locale, self.catalog)
            ]
            if len(messages) > LINE_MESSAGES_PER_REQUEST:
                raise ValueError(f"{len(messages)} LINE messages in one request (at most 5)")
        key = f"line:{message.channel_id}"
        wait = await self._acquire(key)
        if wait > 0:
            return _Result(None, "none", defer_for=wait)
        token = await self._line_token(message.channel_id)
        now = self.clock.now()
        expires = message.reply_token_expires_at
        if (
            message.kind == "reply"
            and message.reply_token
            and expires is not None
            and now < expires
        ):
            outcome = await self._timed(
                "line", self.line.reply(token, message.reply_token, messages)
            )
            received = min(message.created_at, expires - REPLY_TOKEN_LIFE)
            decision = policy.classify(
                outcome,
                platform="line",
                endpoint="reply",
                attempt=message.attempts,
                rng=self.rng,
                token_age=(self.clock.now() - received).total_seconds(),
            )
            if not isinstance(decision, TokenSpent):
                return _Result(decision, "reply")
            wait = await self._acquire(key)
            if wait > 0:
                return _Result(None, "none", defer_for=wait)
        outcome = await self._timed(
            "line", self.line.push(token, message.recipient, messages, message.retry_key)
        )
        decision = policy.classify(
            outcome, platform="line", endpoint="push", attempt=message.attempts, rng=self.rng
        )
        if isinstance(decision, TokenSpent):  # not possible for a push; be explicit anyway
            decision = Permanent("token_spent_on_push")
        return _Result(decision, "push")

    async def _workspace_token(self, message: ClaimedMessage) -> str | _Result:
        """The bot token of the row's workspace, or the result when there is none to use."""
        if not self.tokens.per_workspace:
            return self.tokens.single
        workspace = self._workspaces.get(message.hub_id) if message.hub_id is not None else None
        if workspace is not None and workspace.disconnected:
            return _Result(HeldForBudget(DISCONNECTED), "none")
        team = workspace.team_id if workspace is not None else None
        enterprise = workspace.enterprise_id if workspace is not None else None
        if team is None and message.channel_id not in ("", SLACK_TEAM):
            team = message.channel_id  # a DM addressed to a CO's own workspace
        token = await self.tokens.token_for(team, enterprise)
        if token is not None:
            return token
        if message.hub_id is not None:
            async with self.container.session_factory() as session:
                fresh = await hub_workspaces(session, {message.hub_id})
            if message.hub_id in fresh and fresh[message.hub_id].disconnected:
                return _Result(HeldForBudget(DISCONNECTED), "none")  # uninstalled just now
        return _Result(Permanent(NOT_INSTALLED), "none")

    async def _send_slack(self, message: ClaimedMessage) -> _Result:
        payload = message.payload
        raw: dict[str, Any] = payload.get("raw") or {}
        kind = message.kind
        token = await self._workspace_token(message)
        if isinstance(token, _Result):
            return token
        if kind == "slack_home":
            key = f"slack:views:{message.channel_id}"
        elif kind in (UPDATE_KIND, DELETE_KIND, FILE_DELETE_KIND):
            # chat.update, chat.delete and files.delete share the per-workspace method pace.
            key = f"slack:update:{message.channel_id}"
        else:
            key = f"slack:post:{raw.get('channel') or message.recipient}"
        wait = await self._acquire(key)
        if wait > 0:
            return _Result(None, "none", defer_for=wait)
        if kind == SLACK_FILE_KIND:
            return await self._send_slack_file(message, raw, token, key)
        if kind == "slack_home":
            call = self.slack.publish_home(message.recipient, raw["view"], token=token)
        elif kind == FILE_DELETE_KIND:
            call = _gone_is_done(self.slack.delete_file(str(raw.get("file") or ""), token=token))
        elif kind in (UPDATE_KIND, DELETE_KIND):
            ts = raw.get("ts")
            if not ts and raw.get("ts_ref"):
                ts, unresolved = await self._resolve_ts_ref(str(raw["ts_ref"]), message)
                if unresolved is not None:
                    return _Result(unresolved, "none")
            where = await self._message_channel(str(raw.get("channel") or message.recipient), token)
            if isinstance(where, _Result):
                return where
            if kind == DELETE_KIND:
                call = _gone_is_done(self.slack.delete(where, str(ts), token=token))
            else:
                text, blocks = str(raw.get("text") or ""), raw.get("blocks")
                if "messages" in raw:
                    text, blocks = self._render_slack(raw, message.locale)
                call = self.slack.update(where, str(ts), text, blocks, token=token)
        else:
            channel = str(raw.get("channel") or message.recipient)
            thread_ts = raw.get("thread_ts") or payload.get("thread_ts")
            if not thread_ts and raw.get("thread_ts_ref"):
                # A reply in a card's thread (core.chat): the card's ts, once it is posted.
                thread_ts, unresolved = await self._resolve_ts_ref(
                    str(raw["thread_ts_ref"]), message
                )
                if unresolved is not None:
                    return _Result(unresolved, "none")
            if message.first_attempt_at is not None and policy.may_have_been_delivered(
                message.previous_error, interrupted=message.interrupted
            ):
                found = await self._look_for_post(message, channel, thread_ts, token)
                if found is not None:
                    return found
            locale = await self._reader_locale(message, channel, token)
            if "message" in payload or "messages" in payload:
                texts: list[str] = []
                blocks = []
                for neutral in _neutral_messages(payload):
                    part_text, part_blocks = render_slack(neutral, locale, self.catalog)
                    texts.append(part_text)
                    blocks.extend(part_blocks)
                text = "\n\n".join(texts)
            elif "messages" in raw:
                text, blocks = self._render_slack(raw, locale)
            else:
                text, blocks = str(raw.get("text") or ""), raw.get("blocks") or []
            call = self.slack.post_message(
                channel,
                text,
                blocks,
                thread_ts=thread_ts,
                metadata=outbox_metadata(message.id),
                token=token,
            )
        return await self._slack_result(message, call, key)

    async def _message_channel(self, channel: str, token: str) -> str | _Result:
        """Where a posted message lives, for chat.update and chat.delete: a DM was posted to
        the user's id, but Slack edits it only by the DM's own channel id (D…), which
        conversations.open answers (kept for the process's life: it never changes)."""
        if channel[:1] not in ("U", "W"):
            return channel
        cached = self._dm_channels.get(channel)
        if cached is not None:
            return cached
        outcome, dm = await self.slack.open_dm(channel, token=token)
        if not outcome.succeeded or not dm:
            decision = policy.classify(
                outcome, platform="slack", endpoint="slack", attempt=0, rng=self.rng
            )
            return _Result(decision, "slack")
        self._dm_channels[channel] = dm
        return dm

    async def _reader_locale(self, message: ClaimedMessage, channel: str, token: str) -> str:
        """The language a DM is written in: its reader's Slack client language (English when
        it is English, else Japanese), read with users.info once a day per person. Channel
        posts stay in the row's language: many people read them."""
        if channel[:1] not in ("U", "W"):
            return message.locale
        now = time.monotonic()
        cached = self._slack_locales.get(channel)
        if cached is None or cached[1] < now:
            found = await self.slack.user_locale(channel, token=token)
            if found is None:
                # Unknown for now (Slack slow or refusing): the row's language, asked again soon.
                self._slack_locales[channel] = (message.locale, now + LOCALE_RETRY_SECONDS)
                return message.locale
            language = "en" if found.lower().startswith("en") else "ja"
            cached = (language, now + LOCALE_TTL_SECONDS)
            self._slack_locales[channel] = cached
        return cached[0]

    async def _slack_result(
        self, message: ClaimedMessage, call: Awaitable[SendOutcome], key: str
    ) -> _Result:
        """Make one Slack call and decide; a Retry-After holds the whole key back."""
        outcome = await self._timed("slack", call)
        decision = policy.classify(
            outcome, platform="slack", endpoint="slack", attempt=message.attempts, rng=self.rng
        )
        if isinstance(decision, Retry) and outcome.retry_after is not None:
            self.limiter.block(key, outcome.retry_after)
        return _Result(decision, "slack", limiter_key=key)

    async def _send_slack_file(
        self, message: ClaimedMessage, raw: dict[str, Any], token: str, key: str
    ) -> _Result:
        """An owner's photo or file, fetched from LINE and shared in the case's thread.

        What LINE no longer has (its content expires) or what is over the size limit still
        reaches the thread as words, so the CO knows something came and can ask for it.
        """
        channel = str(raw.get("channel") or message.recipient)
        thread_ts = raw.get("thread_ts")
        if not thread_ts and raw.get("thread_ts_ref"):
            thread_ts, unresolved = await self._resolve_ts_ref(str(raw["thread_ts_ref"]), message)
            if unresolved is not None:
                return _Result(unresolved, "none")
        comment, _blocks = self._render_slack(raw, message.locale)
        access = await self._line_token(str(raw.get("line_channel") or DEFAULT_CHANNEL))
        content = await self.line_content.fetch(
            access, str(raw.get("message_id") or ""), max_bytes=MAX_ATTACHMENT_BYTES
        )
        if content.outcome.succeeded:
            name = str(raw.get("file_name") or "") or _file_name(raw, content.content_type)
            call = self.slack.upload_file(
                channel,
                filename=name,
                content=content.data,
                title=name,
                initial_comment=comment,
                thread_ts=str(thread_ts) if thread_ts else None,
                token=token,
            )
        else:
            status = content.outcome.status
            if not content.too_large and (status is None or status >= 500 or status == 429):
                after = policy.backoff(message.attempts, self.rng)
                return _Result(Retry(after, f"line_content:{content.outcome.error}"), "none")
            reason = "too_large" if content.too_large else "gone"
            note = self.catalog.render(
                Text(f"chat.slack.content_{reason}", max_mb=MAX_ATTACHMENT_BYTES // 2**20),
                message.locale,
            )
            call = self.slack.post_message(
                channel,
                f"{comment}\n{note}",
                [],
                thread_ts=str(thread_ts) if thread_ts else None,
                metadata=outbox_metadata(message.id),
                token=token,
            )
        return await self._slack_result(message, call, key)

    async def _look_for_post(
        self, message: ClaimedMessage, channel: str, thread_ts: str | None, token: str
    ) -> _Result | None:
        """Before posting again what may have gone out: is it in the channel already?

        Answers the result to record (found: sent with its ts; the look-up failed for a
        while: retry later) or None to go on and post. A look-up that can never work (say the
        app lacks channels:history) posts anyway: a possible duplicate beats a lost message.
        """
        assert message.first_attempt_at is not None
        key = f"slack:history:{message.channel_id}"
        wait = await self._acquire(key)
        if wait > 0:
            return _Result(None, "none", defer_for=wait)
        started = time.perf_counter()
        lookup = await self.slack.find_post(
            channel,
            message.id,
            oldest=message.first_attempt_at - HISTORY_MARGIN,
            thread_ts=thread_ts,
            token=token,
        )
        self.metrics.slack_history_seconds.observe(time.perf_counter() - started)
        extra = {"outbox_id": message.id, "attempt": message.attempts, "pages": lookup.pages}
        if lookup.ts is not None:
            self.metrics.slack_history_checks.labels("true").inc()
            log.info("Slack post found in the channel; recorded, not posted again", extra=extra)
            return _Result(Sent(lookup.ts), "slack")
        if lookup.outcome.succeeded:
            self.metrics.slack_history_checks.labels("false").inc()
            return None
        self.metrics.slack_history_checks.labels("unknown").inc()
        decision = policy.classify(
            lookup.outcome,
            platform="slack",
            endpoint="slack",
            attempt=message.attempts,
            rng=self.rng,
        )
        if isinstance(decision, Retry):
            if lookup.outcome.retry_after is not None:
                self.limiter.block(key, lookup.outcome.retry_after)
            return _Result(Retry(decision.after, f"history_check_failed:{decision.reason}"), "none")
        log.warning(
            "Slack history look-up impossible; posting again without it",
            extra={**extra, "reason": lookup.outcome.error},
        )
        return None

    def _render_slack(self, payload: dict[str, Any], locale: str) -> tuple[str, list[Any]]:
        texts: list[str] = []
        blocks: list[Any] = []
        for neutral in _neutral_messages(payload):
            part_text, part_blocks = render_slack(neutral, locale, self.catalog)
            texts.append(part_text)
            blocks.extend(part_blocks)
        return "\n\n".join(texts), blocks

    async def _resolve_ts_ref(
        self, ref: str, message: ClaimedMessage
    ) -> tuple[str | None, Decision | None]:
        """The ts of the message an update refers to by its outbox key.

        A message's ts exists only once the dispatcher has sent it; until then the update
        waits (retried later), and if the message itself failed for good the update fails too.
        """
        async with unit_of_work(self.container.session_factory) as session:
            row = await session.scalar(
                select(OutboxMessage).where(OutboxMessage.idempotency_key == ref)
            )
            if row is not None and row.accepted_request_id:
                return row.accepted_request_id, None
            if row is None or row.status in (OutboxStatus.FAILED, OutboxStatus.CANCELLED):
                return None, Permanent(f"ts_ref_unavailable:{ref[:80]}")
        return None, Retry(policy.backoff(message.attempts, self.rng), "ts_ref_pending")

    async def _line_token(self, channel_key: str) -> str:
        token = self._line_tokens.get(channel_key)
        if token is None:
            try:
                token = await channel_access_token(self.container, channel_key)
            except LookupError:
                token = self._default_line_token
            self._line_tokens[channel_key] = token
        return token

    # -- quota and gauges -----------------------------------------------------------------

    async def refresh_line_quota(self) -> None:
        """Read each channel's monthly quota and consumption from LINE into the gauges."""
        for channel_key in await channel_keys(self.container):
            access = await self._line_token(channel_key)
            quota = await self.line.get_quota(access)
            used = await self.line.get_consumption(access)
            if quota is not None:
                self.metrics.line_push_quota.labels(channel_key).set(quota)
            if used is not None:
                self.metrics.line_push_consumption.labels(channel_key).set(used)

    async def aclose(self) -> None:
        for client in self._rich_menus.values():
            await client.aclose()
        self._rich_menus.clear()
        await self.line.aclose()
        await self.line_content.aclose()
        await self.slack.aclose()


GONE_ERRORS = frozenset({"message_not_found", "file_not_found", "file_deleted"})
"""A deletion whose message or file is gone already (someone removed it in Slack) is done."""


async def _gone_is_done(call: Awaitable[SendOutcome]) -> SendOutcome:
    outcome = await call
    if outcome.error in GONE_ERRORS:
        return SendOutcome(status=outcome.status, ok=True)
    return outcome


def _reason_label(reason: str) -> str:
    """A low-cardinality metric label from a reason."""
    head = reason.split(":", 1)[0]
    return head[:40]


async def _idle(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_dispatcher(
    container: Container,
    *,
    stop: asyncio.Event | None = None,
    batch: int | None = None,
    lease: timedelta | None = None,
    concurrency: int | None = None,
) -> None:
    """Run the dispatcher until `stop` is set (or the task is cancelled)."""
    stop = stop or asyncio.Event()
    settings = container.settings
    batch = batch or settings.dispatch_batch
    lease = lease or timedelta(seconds=settings.dispatch_lease_seconds)
    concurrency = concurrency or settings.dispatch_concurrency
    poll = settings.dispatch_poll_seconds
    quota_every = settings.line_quota_refresh_seconds
    dispatcher = Dispatcher(container, batch=batch, lease=lease, concurrency=concurrency)
    next_quota = time.monotonic() + quota_every if quota_every > 0 else float("inf")
    log.info("dispatcher started", extra={"batch": batch, "concurrency": concurrency})
    try:
        while not stop.is_set():
            # A beat per cycle, not from a timer: a cycle that never returns (a send or a
            # database call that hangs) stops the beat while the event loop still turns.
            beat(container, "dispatcher")
            try:
                report = await dispatcher.run_once()
            except Exception:
                log.exception("dispatcher cycle failed; trying again")
                await _idle(stop, poll * 4)
                continue
            if time.monotonic() >= next_quota:
                next_quota = time.monotonic() + quota_every
                try:
                    await dispatcher.refresh_line_quota()
                except Exception:
                    log.warning("LINE quota refresh failed", exc_info=True)
            if report.claimed < batch or report.deferred == report.claimed:
                await _idle(stop, poll)
    finally:
        await dispatcher.aclose()
        log.info("dispatcher stopped")


LINE_MESSAGES_PER_REQUEST = 5


@dataclass(frozen=True)
class _Held:
    """The gate's own verdict when the month's push budget is spent."""


_HELD = _Held()

OWNER_PUSH_EXEMPT_KINDS = frozenset({"reply", "richmenu_link"})
"""LINE rows that are no push of ours: answers to what the owner just did, and menu links."""


def is_owner_push(message: ClaimedMessage) -> bool:
    """A LINE push to an owner: waits for the push window, counts on the budget."""
    return message.platform is Platform.LINE and message.kind not in OWNER_PUSH_EXEMPT_KINDS


def _stale_after(payload: dict[str, Any]) -> datetime | None:
    """The earliest `stale_after` of a row's neutral messages (meta), if any."""
    earliest: datetime | None = None
    for item in payload.get("messages", ()):
        raw = (item.get("meta") or {}).get("stale_after") if isinstance(item, dict) else None
        if not raw:
            continue
        try:
            moment = datetime.fromisoformat(str(raw))
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        earliest = moment if earliest is None else min(earliest, moment)
    return earliest


def _file_name(raw: dict[str, Any], content_type: str) -> str:
    """A name for a photo LINE sent without one: by its message id and its type."""
    extension = mimetypes.guess_extension(content_type) or ".bin"
    return f"line-{raw.get('message_id') or 'photo'}{extension}"


def _neutral_messages(payload: dict[str, Any]) -> list[OutgoingMessage]:
    """The neutral messages of a row: a list since rows carry a whole answer."""
    if "messages" in payload:
        return [decode_message(item) for item in payload["messages"]]
    return [decode_message(payload["message"])]
