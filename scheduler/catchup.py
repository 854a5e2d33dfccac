"""Run the jobs whose triggers fell in a stretch of time that was skipped.

The emulator and `yorozu demo` move the service's clock forward by hours or months; the jobs
that would have fired in between then run once each (APScheduler's coalescing), in the order
the runner lists them, at the new time. The jobs decide what to send from database rows, so
one run at the end sends what several runs would have, and drops what had gone stale, just as
after real downtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.runner import JobSpec, run_job


@dataclass(frozen=True)
class JobRun:
    id: str
    count: int


def due_between(specs: Sequence[JobSpec], start: datetime, end: datetime) -> list[JobSpec]:
    """The jobs with a trigger time in (start, end]."""
    after = start + timedelta(microseconds=1)
    due = []
    for spec in specs:
        fire = spec.trigger.get_next_fire_time(None, after)
        if fire is not None and fire <= end:
            due.append(spec)
    return due


async def run_due_between(specs: Sequence[JobSpec], start: datetime, end: datetime) -> list[JobRun]:
    """Run each job due in (start, end] once; a failing job is logged and reported as 0."""
    runs = []
    for spec in due_between(specs, start, end):
        runs.append(JobRun(spec.id, await run_job(spec.id, spec.func, *spec.args)))
    return runs
