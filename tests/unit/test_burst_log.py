"""A burst of the same refusal is one log line, and the next line says how many it stood for."""

from __future__ import annotations

import logging

import pytest

from bots.burst_log import BurstLog


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_one_line_and_the_next_counts_what_was_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = _Clock()
    burst = BurstLog(logging.getLogger("t.burst"), "commit too slow", every=10.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="t.burst"):
        for _ in range(500):
            burst(events=1)
            clock.now += 0.001  # 500 in half a second
        clock.now += 10.0
        burst(events=3)
    lines = [r for r in caplog.records if r.name == "t.burst"]
    assert [r.getMessage() for r in lines] == ["commit too slow", "commit too slow"]
    assert [(r.repeats, r.events) for r in lines] == [(0, 1), (499, 3)]  # type: ignore[attr-defined]
    assert [r.levelno for r in lines] == [logging.ERROR, logging.ERROR]


def test_occurrences_further_apart_than_the_interval_are_each_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = _Clock()
    burst = BurstLog(
        logging.getLogger("t.apart"), "refused", level=logging.WARNING, every=1.0, clock=clock
    )
    with caplog.at_level(logging.INFO, logger="t.apart"):
        for _ in range(3):
            burst()
            clock.now += 1.0
    lines = [r for r in caplog.records if r.name == "t.apart"]
    assert [(r.levelno, r.repeats) for r in lines] == [(logging.WARNING, 0)] * 3  # type: ignore[attr-defined]
