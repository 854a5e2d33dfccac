"""A scan for personal data left behind: every table and column, and the stand-ins' messages.

Reused by every test that promises something is gone (erasure, retention, a new feature's own
tables): it reads the live database's catalogue, not our models, so a table or column added
by a migration is scanned the day it exists, and slack_sdk's tables too. Every value is read
as text: strings as they are, JSON decoded and written out again without escapes (Japanese
stored as \\uXXXX is seen as typed), bytes decoded, and numbers as digits (a phone number kept
in an integer column is still found).

The stand-ins: every message the Slack stand-in holds now (its current text, blocks, files,
metadata and the arguments it keeps), each person's App Home as last published, and every
LINE message delivered or held. A LINE chat is the person's own phone: LINE gives a bot no
way to take back what it sent, so the chats of the person erased can be left out by naming
them (`own_chats`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine

from integrations.standins import LineApiStandin, SlackApiStandin


@dataclass(frozen=True, order=True)
class Hit:
    where: str
    """table.column#<row id>, slack:<channel>/<ts>, slack-home:<user>, line:<to>."""
    needle: str


def as_text(value: Any) -> str:
    """A stored value as a person would read it."""
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "[", '"'):
            try:
                return json.dumps(json.loads(stripped), ensure_ascii=False)
            except ValueError:
                return value
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _find(where: str, text: str, needles: Sequence[str]) -> set[Hit]:
    return {Hit(where, needle) for needle in needles if needle and needle in text}


async def scan_database(
    engine: AsyncEngine, needles: Sequence[str], *, schema: str | None = None
) -> set[Hit]:
    """Every needle found anywhere in the database, with the table, column and row."""
    metadata = MetaData()

    def reflect(connection: Any) -> None:
        metadata.reflect(connection, schema=schema)

    hits: set[Hit] = set()
    async with engine.connect() as connection:
        await connection.run_sync(reflect)
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            key = next(iter(table.primary_key.columns), None)
            for row in await connection.execute(select(table)):
                values = row._mapping
                row_id = values[key.name] if key is not None else "?"
                for column in table.columns:
                    text = as_text(values[column.name])
                    if text:
                        hits |= _find(f"{table.name}.{column.name}#{row_id}", text, needles)
    return hits


def scan_slack(standin: SlackApiStandin, needles: Sequence[str]) -> set[Hit]:
    """Every needle in what the Slack stand-in holds now: messages and views."""
    hits: set[Hit] = set()
    for message in standin.recorder.messages:
        text = as_text(
            {
                "text": message.text,
                "blocks": message.blocks,
                "files": message.files,
                "metadata": message.metadata,
                "args": message.args,
            }
        )
        hits |= _find(f"slack:{message.channel}/{message.ts}", text, needles)
    # App Home: Slack holds the view published last for each person (modals close).
    homes = {v.user_id: v for v in standin.recorder.views if v.method == "views.publish"}
    for user, view in homes.items():
        hits |= _find(f"slack-home:{user}", as_text(view.view), needles)
    return hits


def scan_line(
    standin: LineApiStandin, needles: Sequence[str], *, own_chats: Iterable[str] = ()
) -> set[Hit]:
    """Every needle in the LINE messages the stand-in delivered or holds, but for the chats
    named in `own_chats` (the erased person's own phone)."""
    skip = set(own_chats)
    hits: set[Hit] = set()
    for delivery in [*standin.recorder.deliveries, *standin.recorder.undelivered]:
        if delivery.to in skip:
            continue
        hits |= _find(f"line:{delivery.to}", as_text(delivery.messages), needles)
    return hits


async def scan_everything(
    engine: AsyncEngine,
    needles: Sequence[str],
    *,
    slack: SlackApiStandin | None = None,
    line: LineApiStandin | None = None,
    own_chats: Iterable[str] = (),
    schema: str | None = None,
) -> set[Hit]:
    hits = await scan_database(engine, needles, schema=schema)
    if slack is not None:
        hits |= scan_slack(slack, needles)
    if line is not None:
        hits |= scan_line(line, needles, own_chats=own_chats)
    return hits
