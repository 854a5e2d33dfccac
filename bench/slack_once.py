"""Slack exactly once: duplicates without and with the history check, and what it costs.

1,000 posts over 47 channels go through the real dispatcher to the Slack stand-in, which loses
30 % of chat.postMessage answers after posting (the connection drops). Run twice on one
machine: once with the look-up in conversations.history switched off (a retry simply posts
again, as before issue 18) and once with it. Printed: messages in the channels and duplicates
for each, and the mean time of one history look-up as a ratio to one chat.postMessage in the
same run (the time a look-up adds to each post that is retried).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass

from core.db.migrate import upgrade
from core.db.session import unit_of_work
from core.domain.enums import Platform
from core.i18n import Text
from core.messages import OutgoingMessage
from core.outbox import store
from core.outbox.store import ClaimedMessage
from integrations.slack.client import outbox_id_of
from integrations.standins import ServerThread, create_slack_api, make_slack_id
from yorozu.bootstrap import bootstrap
from yorozu.dispatcher import Dispatcher, _Result
from yorozu.settings import load_settings

POSTS = 1000
CHANNELS = 47
LOST = 0.3
TOKEN = "xoxb-bench-slack-once"
RATE = 50.0


class _NoHistoryCheck(Dispatcher):
    """The dispatcher as it was before issue 18: a retry posts again without looking."""

    async def _look_for_post(
        self, message: ClaimedMessage, channel: str, thread_ts: str | None, token: str
    ) -> _Result | None:
        return None


@dataclass
class Result:
    name: str
    messages: int
    duplicates: int
    lost_answers: int
    retried_posts: int
    lookups: int
    lookup_seconds: float
    post_seconds: float
    elapsed: float


async def _run(name: str, database: str, check: bool) -> Result:
    channels = {make_slack_id("C", f"bench-{i}"): f"bench-{i}" for i in range(CHANNELS)}
    standin = create_slack_api([TOKEN], channels=channels)
    for method in ("chat.postMessage", "conversations.history", "conversations.replies"):
        standin.set_rate_limit(method, RATE * CHANNELS, RATE * CHANNELS)
    standin.lose_answers(LOST, "drop", seed=18)
    with ServerThread(standin.app) as server:
        settings = load_settings(
            database_url=database,
            redis_url=None,
            slack_bot_token=TOKEN,
            slack_api_base_url=server.url + "/api/",
            slack_rate_per_second=RATE,
            slack_history_rate_per_minute=RATE * CHANNELS * 60,
            send_timeout_seconds=2,
            log_level="WARNING",
        )
        container = await bootstrap(settings)
        await upgrade(container.engine)
        now = container.clock.now()
        names = list(channels)
        async with unit_of_work(container.session_factory) as session:
            for index in range(POSTS):
                await store.add_message(
                    session,
                    platform=Platform.SLACK,
                    channel_id="default",
                    recipient=names[index % CHANNELS],
                    message=OutgoingMessage(texts=(Text("common.verbatim", value=f"n{index}"),)),
                    kind="slack_message",
                    idempotency_key=f"bench:{uuid.uuid4().hex}",
                    now=now,
                )
        kind = Dispatcher if check else _NoHistoryCheck
        dispatcher = kind(container, batch=500, concurrency=128)
        started = time.perf_counter()
        deadline = started + 300
        retried = 0
        while time.perf_counter() < deadline:
            report = await dispatcher.run_once()
            retried += report.retried
            async with container.session_factory() as session:
                counts = await store.stats(session)
            if counts["pending"] + counts["sending"] == 0:
                break
            if report.claimed == 0:
                await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        registry = dispatcher.metrics.registry
        await dispatcher.aclose()
        await container.aclose()

    def sample(metric: str, labels: dict[str, str] | None = None) -> float:
        return float(registry.get_sample_value(metric, labels or {}) or 0.0)

    lookups = int(sample("yorozu_slack_history_seconds_count"))
    posts = sample("yorozu_send_seconds_count", {"platform": "slack"})
    per_outbox = Counter(outbox_id_of({"metadata": m.metadata}) for m in standin.recorder.messages)
    return Result(
        name=name,
        messages=len(standin.recorder.messages),
        duplicates=sum(count - 1 for count in per_outbox.values()),
        lost_answers=standin.lost_answers,
        retried_posts=retried,
        lookups=lookups,
        lookup_seconds=sample("yorozu_slack_history_seconds_sum") / lookups if lookups else 0.0,
        post_seconds=sample("yorozu_send_seconds_sum", {"platform": "slack"}) / posts
        if posts
        else 0.0,
        elapsed=elapsed,
    )


def run() -> list[Result]:
    results = []
    for name, check in (("without history check", False), ("with history check", True)):
        with tempfile.TemporaryDirectory() as folder:
            results.append(asyncio.run(_run(name, f"sqlite:///{folder}/s.db", check)))
    return results


def report(results: list[Result]) -> None:
    print(
        f"slack_once ({POSTS} posts over {CHANNELS} channels, {LOST:.0%} of chat.postMessage "
        "answers lost after posting)"
    )
    print(
        f"  {'run':<24}{'messages':>9}{'duplicates':>12}{'lost answers':>14}"
        f"{'look-ups':>10}{'look-up / post':>16}"
    )
    for r in results:
        ratio = f"{r.lookup_seconds / r.post_seconds:.2f}x" if r.lookups and r.post_seconds else "-"
        print(
            f"  {r.name:<24}{r.messages:>9}{r.duplicates:>12}{r.lost_answers:>14}"
            f"{r.lookups:>10}{ratio:>16}"
        )
    checked = results[-1]
    if checked.lookups:
        print(
            f"  one look-up {checked.lookup_seconds * 1000:.1f} ms, one chat.postMessage "
            f"{checked.post_seconds * 1000:.1f} ms in the same run"
        )
    print(f"  target: {POSTS} messages and 0 duplicates with the check")


if __name__ == "__main__":
    report(run())
