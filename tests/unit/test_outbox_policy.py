"""What the dispatcher does after a send: a table of outcomes and decisions."""

from __future__ import annotations

import random

import pytest

from core.outbox import policy
from core.outbox.policy import (
    Decision,
    HeldForBudget,
    Permanent,
    Retry,
    SendOutcome,
    Sent,
    TokenSpent,
    backoff,
    classify,
)

MONTHLY = "You have reached your monthly limit."
RATE = "The API rate limit has been exceeded. Try again later."


@pytest.mark.parametrize(
    ("outcome", "platform", "endpoint", "attempt", "token_age", "expected"),
    [
        (SendOutcome(200, "req-1"), "line", "push", 1, None, Sent("req-1")),
        (SendOutcome(200, "req-2"), "line", "reply", 1, 3.0, Sent("req-2")),
        (
            SendOutcome(409, "accepted-1", "The retry key is already accepted"),
            "line",
            "push",
            2,
            None,
            Sent("accepted-1"),
        ),
        (SendOutcome(429, error=MONTHLY), "line", "push", 1, None, HeldForBudget()),
        (SendOutcome(429, error=RATE), "line", "push", 1, None, Retry),
        (SendOutcome(500, error="Internal Server Error"), "line", "push", 1, None, Retry),
        (SendOutcome(503), "line", "reply", 1, 2.0, Retry),
        (SendOutcome(None, error="TimeoutError"), "line", "push", 1, None, Retry),
        (
            SendOutcome(400, error="The request body has 1 error(s)"),
            "line",
            "push",
            1,
            None,
            Permanent("http_400"),
        ),
        (SendOutcome(401), "line", "push", 1, None, Permanent("http_401")),
        (SendOutcome(403), "line", "push", 1, None, Permanent("http_403")),
        # reply token: first attempt refused -> fall back to a push
        (SendOutcome(400, error="Invalid reply token"), "line", "reply", 1, 5.0, TokenSpent()),
        # a retried reply refused while the token is surely fresh: our own attempt used it
        (SendOutcome(400, error="Invalid reply token"), "line", "reply", 2, 12.0, Sent(None)),
        # ... but not when it may have expired
        (SendOutcome(400, error="Invalid reply token"), "line", "reply", 2, 55.0, TokenSpent()),
        (SendOutcome(409), "line", "reply", 1, 1.0, Permanent("http_409")),
        (SendOutcome(200, "171.0001", ok=True), "slack", "slack", 1, None, Sent("171.0001")),
        (
            SendOutcome(429, error="ratelimited", retry_after=2.0, ok=False),
            "slack",
            "slack",
            1,
            None,
            Retry,
        ),
        (
            SendOutcome(200, error="channel_not_found", ok=False),
            "slack",
            "slack",
            1,
            None,
            Permanent("channel_not_found"),
        ),
        (
            SendOutcome(200, error="not_in_channel", ok=False),
            "slack",
            "slack",
            1,
            None,
            Permanent("not_in_channel"),
        ),
        (
            SendOutcome(200, error="invalid_auth", ok=False),
            "slack",
            "slack",
            1,
            None,
            Permanent("invalid_auth"),
        ),
        (
            SendOutcome(200, error="invalid_blocks", ok=False),
            "slack",
            "slack",
            1,
            None,
            Permanent("invalid_blocks"),
        ),
        (SendOutcome(200, error="internal_error", ok=False), "slack", "slack", 1, None, Retry),
        (SendOutcome(500, error="fatal_error", ok=False), "slack", "slack", 1, None, Retry),
        (SendOutcome(200, error="service_unavailable", ok=False), "slack", "slack", 1, None, Retry),
        (SendOutcome(None, error="ClientConnectorError"), "slack", "slack", 1, None, Retry),
    ],
)
def test_classify(
    outcome: SendOutcome,
    platform: str,
    endpoint: str,
    attempt: int,
    token_age: float | None,
    expected: Decision | type,
) -> None:
    decision = classify(
        outcome,
        platform=platform,  # type: ignore[arg-type]
        endpoint=endpoint,  # type: ignore[arg-type]
        attempt=attempt,
        rng=random.Random(1),
        token_age=token_age,
    )
    if isinstance(expected, type):
        assert isinstance(decision, expected)
    else:
        assert decision == expected


def test_retry_after_is_honoured_never_earlier() -> None:
    rng = random.Random(7)
    for _ in range(200):
        decision = classify(
            SendOutcome(429, error="ratelimited", retry_after=2.0, ok=False),
            platform="slack",
            endpoint="slack",
            attempt=1,
            rng=rng,
        )
        assert isinstance(decision, Retry)
        assert 2.0 <= decision.after <= 3.0


def test_line_429_without_retry_after_backs_off_exponentially() -> None:
    rng = random.Random(3)
    afters = []
    for attempt in (1, 2, 3, 4, 5):
        decision = classify(
            SendOutcome(429, error=RATE), platform="line", endpoint="push", attempt=attempt, rng=rng
        )
        assert isinstance(decision, Retry)
        afters.append(decision.after)
    assert afters == sorted(afters)


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [
        (1, 0.5, 1.0),
        (2, 1.0, 2.0),
        (3, 2.0, 4.0),
        (6, 16.0, 32.0),
        (12, 150.0, 300.0),
        (40, 150.0, 300.0),
    ],
)
def test_backoff_bounds(attempt: int, low: float, high: float) -> None:
    rng = random.Random(attempt)
    values = [backoff(attempt, rng) for _ in range(100)]
    assert all(low <= v <= high for v in values)
    assert len(set(values)) > 50  # jitter


def test_too_many_attempts_become_permanent() -> None:
    decision = classify(
        SendOutcome(500), platform="line", endpoint="push", attempt=25, rng=random.Random(1)
    )
    assert isinstance(decision, Permanent)
    assert decision.reason.startswith("gave_up_after_25_attempts")


@pytest.mark.parametrize(
    ("previous_error", "interrupted", "expected"),
    [
        (None, False, False),  # a first attempt
        (None, True, True),  # the dispatcher died holding it
        ("interrupted", False, True),  # given back after one did
        ("no_answer", False, True),  # time-out, reset connection
        ("http_500", False, True),
        ("http_503", False, True),
        ("internal_error", False, True),
        ("fatal_error", False, True),
        ("history_check_failed:ratelimited", False, True),  # still unknown
        ("ratelimited", False, False),  # refused: nothing was posted
        ("rate_limited", False, False),
        ("ts_ref_pending", False, False),
    ],
)
def test_may_have_been_delivered(
    previous_error: str | None, interrupted: bool, expected: bool
) -> None:
    assert policy.may_have_been_delivered(previous_error, interrupted=interrupted) is expected
