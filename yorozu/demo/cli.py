"""`yorozu demo`: the whole story, headless, printed as a timeline.

Exit codes: 0 when every step happened, 1 at the first step that did not (a ✗ line on stderr
says what was missing), 2 for bad settings or options. It runs on a database of its own (a
temporary directory, or --keep PATH), never on ./var or DATABASE_URL, and writes nothing in
the working directory.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from yorozu.settings import Settings, settings_for_command


class Language(StrEnum):
    ja = "ja"
    en = "en"


Lang = Annotated[
    Language, typer.Option("--lang", help="Language of the timeline (and of the owner's LINE).")
]
Keep = Annotated[
    Path | None,
    typer.Option(
        "--keep",
        help="Keep the demo's SQLite database at PATH (a new file) instead of a temporary one.",
        dir_okay=False,
        resolve_path=True,
    ),
]
Verbose = Annotated[bool, typer.Option("--verbose", help="Show the service's own logs (INFO).")]


def demo_command(lang: Lang = Language.ja, keep: Keep = None, verbose: Verbose = False) -> None:
    """Run the whole story (LINE owner, partner staff, coordinators, reminders, surveys,
    follow-up, the hub's figures) on a fresh database and print it as a timeline."""
    from yorozu.demo.story import database_file, tell

    if keep is not None and (keep.exists() or not keep.parent.is_dir()):
        typer.echo(f"--keep: {keep} must be a new file in an existing folder", err=True)
        raise typer.Exit(code=2)
    with database_file(keep) as path:
        settings = _settings(path)
        _quiet_logs(settings, verbose=verbose)
        code = asyncio.run(tell(settings, lang=lang.value, out=sys.stdout, err=sys.stderr))
    raise typer.Exit(code=code)


def _settings(path: Path) -> Settings:
    from yorozu.demo.story import demo_overrides

    return settings_for_command(**demo_overrides(path))


def _quiet_logs(settings: Settings, *, verbose: bool) -> None:
    """The service logs JSON to stderr at INFO; the timeline is the demo's output, so only
    warnings show unless asked. Bolt warns on every start that the bot token is unused when
    an authorize function is given: that one says nothing about the story."""
    from yorozu.logs import configure_logging

    level = "INFO" if verbose else "WARNING"
    configure_logging(settings.model_copy(update={"log_level": level}))
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_without_bolt_chatter)


def _without_bolt_chatter(record: logging.LogRecord) -> bool:
    """Bolt copies the root level onto its own loggers when the app is built, so a level set
    on "slack_bolt" does not reach them; a filter on the handler does."""
    return not (record.name.startswith("slack_bolt") and record.levelno < logging.ERROR)
