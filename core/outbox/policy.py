"""What to do after one send attempt: pure functions, table-tested.

The platform clients in integrations/ never raise for an HTTP answer; they hand back a
neutral `SendOutcome`, and `classify` turns it into a `Decision`:

* `Sent`: delivered (LINE's 409 for an already accepted retry key counts: the earlier
  attempt got through).
* `Retry(after)`: try again no earlier than `after` seconds from now (Retry-After when the
  platform sent one, else exponential backoff with jitter).
* `Permanent(reason)`: recorded, never retried (4xx other than 429, a Slack error that waiting
  will not fix, or too many attempts).
* `HeldForBudget(reason)`: LINE's monthly push limit; waiting minutes will not help, so the
  row is parked (status held) until the budget is released.
* `TokenSpent`: the reply token cannot be used (expired or already used by someone else):
  fall back to a push with the row's retry key.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

Platform: TypeAlias = Literal["line", "slack"]
Endpoint: TypeAlias = Literal["reply", "push", "richmenu", "slack"]

BACKOFF_BASE_SECONDS: Final = 1.0
BACKOFF_CAP_SECONDS: Final = 300.0
MAX_ATTEMPTS: Final = 25
"""After this many attempts a retryable failure is recorded as permanent."""
REPLY_TOKEN_SURELY_FRESH_SECONDS: Final = 50.0
"""A reply token younger than this cannot have expired (LINE keeps it about a minute)."""

LINE_MONTHLY_LIMIT_MESSAGE: Final = "You have reached your monthly limit."
LINE_INVALID_REPLY_TOKEN: Final = "Invalid reply token"

SLACK_PERMANENT_ERRORS: Final = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "invalid_blocks",
        "invalid_arguments",
        "is_archived",
        "user_not_found",
        "msg_too_long",
        "no_text",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "missing_scope",
        "restricted_action",
        "user_disabled",
        "not_allowed_token_type",
    }
)
SLACK_RETRYABLE_ERRORS: Final = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)


@dataclass(frozen=True)
class SendOutcome:
    """One platform call as the client saw it; `status` None means no HTTP answer at all."""

    status: int | None
    request_id: str | None = None
    """LINE x-line-request-id (or x-line-accepted-request-id on 409), Slack message ts."""
    error: str | None = None
    """The platform's message (LINE `message`, Slack `error` code); never message content."""
    retry_after: float | None = None
    """Seconds from a Retry-After header (Slack sends it; LINE does not)."""
    ok: bool | None = None
    """Slack's `ok` flag (HTTP 200 with ok false is an error); None for LINE."""

    @property
    def succeeded(self) -> bool:
        if self.status is None or not 200 <= self.status < 300:
            return False
        return self.ok is not False


@dataclass(frozen=True)
class Sent:
    request_id: str | None = None


@dataclass(frozen=True)
class Retry:
    after: float
    reason: str


@dataclass(frozen=True)
class Permanent:
    reason: str


@dataclass(frozen=True)
class HeldForBudget:
    reason: str = "monthly_limit"


@dataclass(frozen=True)
class TokenSpent:
    reason: str = "reply_token_unusable"


Decision: TypeAlias = Sent | Retry | Permanent | HeldForBudget | TokenSpent


def backoff(
    attempt: int,
    rng: random.Random,
    *,
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 for the first).

    Exponential with "equal jitter": between half and all of min(cap, base * 2**(attempt-1)),
    so retries spread out but never come back at once.
    """
    ceiling = min(cap, base * float(2 ** max(0, min(attempt - 1, 32))))
    return ceiling / 2 + rng.random() * ceiling / 2


def classify(
    outcome: SendOutcome,
    *,
    platform: Platform,
    endpoint: Endpoint,
    attempt: int,
    rng: random.Random,
    token_age: float | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> Decision:
    """Turn one attempt's outcome into what to do with the row.

    `attempt` counts this attempt (1 for the first); `token_age` is the seconds since the reply
    token was received, for replies.
    """
    decision = _classify(outcome, platform, endpoint, attempt, rng, token_age)
    if isinstance(decision, Retry) and attempt >= max_attempts:
        return Permanent(f"gave_up_after_{attempt}_attempts:{decision.reason}")
    return decision


def _classify(
    outcome: SendOutcome,
    platform: Platform,
    endpoint: Endpoint,
    attempt: int,
    rng: random.Random,
    token_age: float | None,
) -> Decision:
    status = outcome.status
    if status is None:
        return Retry(backoff(attempt, rng), "no_answer")
    if outcome.succeeded:
        return Sent(outcome.request_id)
    if platform == "slack":
        return _classify_slack(outcome, status, attempt, rng)
    if status == 409 and endpoint == "push":
        # The retry key was accepted before: an earlier attempt of this row got through.
        return Sent(outcome.request_id)
    if status == 429:
        if (outcome.error or "").strip() == LINE_MONTHLY_LIMIT_MESSAGE:
            return HeldForBudget()
        return Retry(_after(outcome, attempt, rng), "rate_limited")
    if status >= 500:
        return Retry(_after(outcome, attempt, rng), f"http_{status}")
    if endpoint == "reply" and status == 400 and _is_invalid_reply_token(outcome.error):
        if attempt > 1 and token_age is not None and token_age < REPLY_TOKEN_SURELY_FRESH_SECONDS:
            # Still surely within its minute, so only our own earlier attempt can have used it.
            return Sent(None)
        return TokenSpent()
    return Permanent(f"http_{status}")


def _classify_slack(
    outcome: SendOutcome, status: int, attempt: int, rng: random.Random
) -> Decision:
    code = outcome.error or ""
    if status == 429 or code in ("ratelimited", "rate_limited"):
        return Retry(_after(outcome, attempt, rng), "ratelimited")
    if status >= 500:
        return Retry(_after(outcome, attempt, rng), f"http_{status}")
    if code in SLACK_RETRYABLE_ERRORS:
        return Retry(_after(outcome, attempt, rng), code)
    if code in SLACK_PERMANENT_ERRORS:
        return Permanent(code)
    if 400 <= status < 500:
        return Permanent(f"http_{status}")
    # An error code we do not know: not worth a storm of retries, but worth a few.
    return (
        Retry(_after(outcome, attempt, rng), code or "unknown")
        if attempt < 3
        else Permanent(code or "unknown")
    )


NOT_DELIVERED_REASONS: Final = frozenset(
    {"ratelimited", "rate_limited", "ts_ref_pending", "not_installed", "workspace_disconnected"}
)
"""Failures after which the platform surely did not take the message: it refused it (a rate
limit) or we never sent it."""


def may_have_been_delivered(previous_error: str | None, *, interrupted: bool = False) -> bool:
    """Could the earlier attempt of a row have been delivered without our knowing?

    True after a time-out or a reset connection (no answer), a 5xx or a server-side error
    answer (the platform may have acted before failing), our own unexpected error, a failed
    look-up of whether it was delivered, or a dispatcher that died holding the row
    (`interrupted`, or the row was given back after one did). False for a first attempt and
    after a refusal that surely sent nothing (a rate limit). Slack posts have no retry key,
    so these are the retries that look in the channel before posting again.
    """
    if interrupted:
        return True
    if not previous_error:
        return False
    return previous_error.split(":", 1)[0] not in NOT_DELIVERED_REASONS


def _after(outcome: SendOutcome, attempt: int, rng: random.Random) -> float:
    """Retry-After when given (never earlier, a little jitter later), else backoff."""
    if outcome.retry_after is not None and outcome.retry_after >= 0:
        return outcome.retry_after + rng.random() * min(1.0, outcome.retry_after * 0.1 + 0.05)
    return backoff(attempt, rng)


def _is_invalid_reply_token(error: str | None) -> bool:
    return LINE_INVALID_REPLY_TOKEN.lower() in (error or "").lower()
