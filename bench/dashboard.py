"""The console's dashboard at national scale: a hub's page and the national roll-up.

A fresh PostgreSQL database gets one fiscal year of records for the 47 hubs at a fraction of
national scale (100 %: 400,000 consultations, 250,000 businesses, 1,100 COs; 1 % of the
businesses merged into a twin, issues on most records, a referral per 50 consultations),
written with COPY. The service's own app (create_app, signed in as HQ through the OIDC
stand-in, as a browser is) then serves each page repeatedly; p50 and p95 are reported, and
the ratio of each to /healthz served by the same app in the same run. Targets (issue 13):
hub page p95 under 300 ms and national page under 1 s at 100 %. The pages read the
pre-counted hub-months (core.figure_months), which the triggers of migration 0012 fill as
the COPY writes the records, so the load time includes what counting costs the writer.

    python -m bench dashboard            # 10 % and 100 %
    YOROZU_BENCH_DASHBOARD_SCALES=0.1,0.25,0.5,1 python -m bench dashboard
    YOROZU_BENCH_DASHBOARD_SCALES=0.1 python -m bench dashboard
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from bench.common import postgres_database
from core.clock import ManualClock
from core.console.people import create_hq_admin
from core.db.migrate import upgrade
from core.db.models import Hub
from core.db.session import unit_of_work
from core.domain.enums import HubKind
from integrations.standins.server import ServerThread
from integrations.standins.slack_oidc import create_slack_oidc
from yorozu.app import create_app
from yorozu.bootstrap import bootstrap
from yorozu.seed import seed
from yorozu.settings import load_settings

FULL = {"consultations": 400_000, "businesses": 250_000, "cos": 1_100}
REPEAT = 15
YEAR = 2026
NOW = datetime(2027, 3, 31, 1, 0, tzinfo=UTC)
CLIENT = ("bench.console", "bench-console-secret")
HQ = ("U0BENCHHQ01", "T0BENCH")


@dataclass
class Timing:
    p50_ms: float
    p95_ms: float


@dataclass
class Result:
    scale: float
    consultations: int
    load_seconds: float
    hub: Timing
    national: Timing
    healthz: Timing


async def _fill(database: str, scale: float) -> tuple[int, float]:
    """One fiscal year of records at `scale`, written with COPY (asyncpg) for speed."""
    started = time.perf_counter()
    settings = load_settings(database_url=database, redis_url=None)
    container = await bootstrap(settings, clock=ManualClock(NOW))
    await upgrade(container.engine)
    async with unit_of_work(container.session_factory) as session:
        await seed(session, demo=False, clock=ManualClock(NOW))
        await create_hq_admin(
            session, slack_user_id=HQ[0], slack_team_id=HQ[1], name="本部", now=NOW
        )
        hubs = (await session.scalars(select(Hub.id).where(Hub.kind == HubKind.HUB))).all()
    rng = random.Random(7)
    n_cos = max(47, int(FULL["cos"] * scale))
    n_businesses = max(47, int(FULL["businesses"] * scale))
    n_consultations = int(FULL["consultations"] * scale)
    raw = await container.engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        co_hub = [hubs[i % len(hubs)] for i in range(n_cos)]
        await conn.copy_records_to_table(
            "coordinators",
            columns=["hub_id", "role", "name", "specialties", "qualifications", "capacity",
                     "active", "console_admin"],
            records=[(co_hub[i], "co", f"CO {i}", "[]", "[]", 15, True, False)
                     for i in range(n_cos)],
        )  # fmt: skip
        first_co = await conn.fetchval("SELECT min(id) FROM coordinators WHERE name = 'CO 0'")
        await conn.copy_records_to_table(
            "businesses",
            columns=["name", "name_key", "founding_planned", "created_at", "updated_at"],
            records=[(f"事業者{i}", f"事業者{i}", False, NOW, NOW) for i in range(n_businesses)],
        )
        first_business = await conn.fetchval("SELECT min(id) FROM businesses")
        await conn.execute(
            "UPDATE businesses SET merged_into_id = id - 1 WHERE id % 100 = 0 AND id > $1",
            first_business,
        )
        await conn.copy_records_to_table(
            "cases",
            columns=["number", "hub_id", "business_id", "source", "topics", "status", "phase",
                     "priority", "sit_in_requested", "created_at", "updated_at"],
            records=[(f"B-{i:07d}", hubs[i % len(hubs)], first_business + i, "line", "[]",
                      "in_support", 1, 50, False, NOW, NOW) for i in range(n_businesses)],
        )  # fmt: skip
        first_case = await conn.fetchval("SELECT min(id) FROM cases")
        start = date(YEAR, 4, 1)
        records = []
        for _i in range(n_consultations):
            case = rng.randrange(n_businesses)
            hub = hubs[case % len(hubs)]
            co = first_co + (case % len(hubs)) + len(hubs) * rng.randrange(max(1, n_cos // 47))
            issues = rng.choice(["[]", '["販路"]', '["販路", "価格"]', '["資金繰り"]'])
            records.append(
                (first_case + case, min(co, first_co + n_cos - 1), hub,
                 start + timedelta(days=rng.randrange(365)), 60, issues,
                 rng.random() < 0.3, 1, "follow_up", NOW)
            )  # fmt: skip
        await conn.copy_records_to_table(
            "consultation_records",
            columns=["case_id", "co_id", "hub_id", "held_on", "minutes", "issues",
                     "result_confirmed", "phase", "next_step", "created_at"],
            records=records,
        )  # fmt: skip
        await conn.copy_records_to_table(
            "referrals",
            columns=["case_id", "direction", "from_hub_id", "status", "created_at"],
            records=[(first_case + i, "to_partner", hubs[i % len(hubs)], "sent",
                      NOW - timedelta(days=rng.randrange(300)))
                     for i in range(n_consultations // 50)],
        )  # fmt: skip
        await conn.execute("ANALYZE")
    finally:
        raw.close()
        await container.aclose()
    return n_consultations, time.perf_counter() - started


async def _serve(database: str) -> tuple[Timing, Timing, Timing]:
    oidc = create_slack_oidc({CLIENT[0]: CLIENT[1]})
    oidc.add_user(HQ[0], HQ[1], "本部")
    server = ServerThread(oidc.app).start()
    try:
        settings = load_settings(
            database_url=database,
            redis_url=None,
            console_slack_client_id=CLIENT[0],
            console_slack_client_secret=CLIENT[1],
            slack_oidc_issuer=server.url,
            emulator_enabled=False,
            log_level="WARNING",
        )
        app = create_app(settings, clock=ManualClock(NOW))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                start = await client.get("/console/login")
                async with httpx.AsyncClient() as browser:
                    approved = await browser.get(
                        f"{start.headers['location']}&user={HQ[0]}&team={HQ[1]}"
                    )
                back = httpx.URL(approved.headers["location"])
                await client.get(f"{back.path}?{back.query.decode()}")
                hub = await _time(client, f"/console/hubs/13/dashboard?fy={YEAR}")
                national = await _time(client, f"/console/national?fy={YEAR}")
                healthz = await _time(client, "/healthz")
        return hub, national, healthz
    finally:
        server.stop()


async def _time(client: httpx.AsyncClient, path: str) -> Timing:
    first = await client.get(path)  # warm: templates compiled, connections open
    assert first.status_code == 200, (path, first.status_code, first.text[:300])
    seconds = []
    for _ in range(REPEAT):
        began = time.perf_counter()
        answer = await client.get(path)
        seconds.append(time.perf_counter() - began)
        assert answer.status_code == 200
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return Timing(statistics.median(ordered) * 1000, p95 * 1000)


def run() -> list[Result]:
    scales = [float(s) for s in os.environ.get("YOROZU_BENCH_DASHBOARD_SCALES", "0.1,1").split(",")]
    results = []
    for scale in scales:
        with postgres_database() as database:
            consultations, load = asyncio.run(_fill(database, scale))
            hub, national, healthz = asyncio.run(_serve(database))
            results.append(Result(scale, consultations, load, hub, national, healthz))
    return results


def report(results: list[Result]) -> None:
    print("dashboard (PostgreSQL, one fiscal year, served by create_app, signed in as HQ)")
    print(f"  {'scale':>6} {'consultations':>13} {'page':<10} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'x /healthz p50':>15}")  # fmt: skip
    for r in results:
        for name, timing in (("hub 13", r.hub), ("national", r.national), ("/healthz", r.healthz)):
            ratio = timing.p50_ms / r.healthz.p50_ms if r.healthz.p50_ms else float("nan")
            print(
                f"  {r.scale:>6.0%} {r.consultations:>13,} {name:<10} {timing.p50_ms:>8.1f} "
                f"{timing.p95_ms:>8.1f} {ratio:>15.1f}"
            )
        # The load includes the figure_months triggers (migration 0012) counting each COPY.
        print(f"  {r.scale:>6.0%} {r.consultations:>13,} {'load':<10} {r.load_seconds:>8.1f} s")
    if len(results) > 1:
        low, high = results[0], results[-1]
        growth = high.consultations / max(low.consultations, 1)
        print(
            f"  growth {low.scale:.0%} -> {high.scale:.0%} (data x{growth:.0f}): hub p95 "
            f"x{high.hub.p95_ms / low.hub.p95_ms:.1f}, national p95 "
            f"x{high.national.p95_ms / low.national.p95_ms:.1f}"
        )
    print("  targets at 100 %: hub p95 < 300 ms, national p95 < 1000 ms")


if __name__ == "__main__":
    report(run())
