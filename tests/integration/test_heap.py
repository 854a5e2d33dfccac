"""A served process freezes what startup built, so full collections skip it (yorozu/heap.py).

Each case runs in a process of its own: a freeze cannot be undone, and would keep the test
process's own garbage alive.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

_STARTED_APP = """
import asyncio, gc, json, sys, weakref
import httpx
from yorozu.app import create_app
from yorozu.settings import load_settings

class Node:
    pass

async def main():
    settings = load_settings(database_url=sys.argv[1], redis_url=None)
    app = create_app(settings, prepare=True, freeze_heap=sys.argv[2] == "on")
    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            status = (await client.get("/healthz")).status_code
        cycle = Node(); cycle.me = cycle
        later = weakref.ref(cycle)
        del cycle
        gc.collect()
        print(json.dumps({"frozen": frozen, "status": status, "later_freed": later() is None}))

asyncio.run(main())
"""


def _run(script: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_served_app_freezes_its_startup_heap_and_still_collects_later_garbage(
    tmp_path: Path,
) -> None:
    on = _run(_STARTED_APP, f"sqlite:///{tmp_path}/on.db", "on")
    assert on["status"] == 200
    assert on["frozen"] > 50_000, on
    assert on["later_freed"] is True


def test_an_app_built_without_the_flag_freezes_nothing(tmp_path: Path) -> None:
    off = _run(_STARTED_APP, f"sqlite:///{tmp_path}/off.db", "off")
    assert off["status"] == 200
    assert off["frozen"] == 0


def test_garbage_alive_at_the_freeze_is_collected_first_not_frozen() -> None:
    result = _run(
        """
        import gc, json, weakref
        from yorozu.heap import freeze_startup_heap

        class Node:
            pass

        kept = [Node() for _ in range(10)]
        cycle = Node(); cycle.me = cycle
        before = weakref.ref(cycle)
        del cycle
        gc.disable()  # so only the freeze's own collection can free the cycle
        frozen = freeze_startup_heap()
        print(json.dumps({"frozen": frozen, "before_freed": before() is None,
                          "count": gc.get_freeze_count()}))
        """
    )
    assert result["before_freed"] is True
    assert result["frozen"] == result["count"]
    assert result["frozen"] > 0
