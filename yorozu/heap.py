"""Keep the garbage collector's full passes off what a process built at startup.

Once the app is built a process holds 200,000 to 350,000 objects (SQLAlchemy's mappers,
FastAPI's routes, slack-bolt, the message catalogs, the SDKs' models) that live as long as
the process. CPython's full collection still walks every one of them, and a webhook burst
allocates fast enough to run one every few seconds: each is a pause of tens of
milliseconds that every request in flight waits through (issue 14: `bench.servers
app-nostore` under wrk, timed with gc.callbacks: full collections of about 125 ms, four in
ten seconds; frozen, about 1 ms each).

`gc.freeze()` moves everything alive into the permanent generation, which no collection
walks. A collection first, so that only the living are frozen: garbage frozen with them
would never be freed. Objects made later are collected as before, and frozen objects are
still freed by reference counting when nothing refers to them.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_startup_heap() -> int:
    """Collect, then freeze what is left; returns how many objects are now frozen.

    Call it once, when the process has built what it serves with and before it takes load.
    """
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("startup heap frozen", extra={"objects": frozen})
    return frozen


__all__ = ["freeze_startup_heap"]
