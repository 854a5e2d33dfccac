"""serve's arrivals journal, wired: which process writes it, which moves it, and when.

The API of `yorozu serve` on SQLite commits webhooks to the journal (core/inbox/journal.py
says why) and its background child moves them into the inbox before each worker batch. The
mark of how far the child has moved lives in shared memory that serve creates and names to
the child in `MARK_ENV`.

Every app start on SQLite first moves what an earlier serve left in the journal, so events
acknowledged just before a stop are handled whatever runs next (serve again, or `yorozu api`
with `yorozu worker` beside it).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

from core.inbox.journal import JournalBacklog, JournalMover, JournalWriter, MoveMark, journal_path
from yorozu.bootstrap import Container

log = logging.getLogger(__name__)

MARK_ENV: Final = "YOROZU_ARRIVALS_MARK"
JOURNAL_WRITER: Final = "arrivals_journal"
"""The container's extras key of the API's JournalWriter (read by the backlog gauges)."""


async def move_leftover_arrivals(
    container: Container, database: Path, mark: MoveMark | None
) -> None:
    """Move every row an earlier process left in the journal (none: nothing to do)."""
    path = journal_path(database)
    if not path.exists():
        return
    mover = JournalMover(path, mark)
    try:
        moved = await mover.move_all(container.session_factory)
    finally:
        mover.close()
    if moved.rows:
        log.info("arrivals journal moved at start", extra={"events": moved.rows, "new": moved.new})
        count_moved(container, moved.rows, moved.new)


def count_moved(container: Container, rows: int, new: int) -> None:
    """The journal's share of the intake counters: new events and the duplicates dropped."""
    container.metrics.events_accepted.labels("line").inc(new)
    container.metrics.events_duplicate.labels("line").inc(rows - new)


def child_mover(container: Container) -> JournalMover | None:
    """The background child's mover, when its serve journals (SQLite and a mark to follow)."""
    import os

    database = container.settings.sqlite_path()
    name = os.environ.get(MARK_ENV)
    if database is None or not name:
        return None
    return JournalMover(journal_path(database), MoveMark.attach(name))


async def journal_backlog(container: Container) -> JournalBacklog | None:
    """What waits in this process's journal (None: it has none)."""
    journal = container.extras.get(JOURNAL_WRITER)
    if not isinstance(journal, JournalWriter):
        return None
    return await journal.backlog()
