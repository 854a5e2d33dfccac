"""Structured JSON logs with a request id, and never personal data (invariant 9).

One set-up for every process (api, worker, dispatcher, scheduler, every CLI command): the
lines are python-json-logger's, so we keep no JSON formatter of our own. What is ours is
what keeps personal data out of them:

- platform user ids are hashed with a salt before they reach a log line, so logs can still
  be correlated per person without identifying anyone;
- slack_bolt and slack_sdk write whole request and response bodies into their messages
  (a forged request's body at INFO, every API call's JSON at DEBUG); a body is what a
  person typed, so only the words before the body are kept;
- uvicorn attaches an ANSI-coloured copy of each message (`color_message`), which is not
  written.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import logging
import re
import sys
from typing import TYPE_CHECKING, Any, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

if TYPE_CHECKING:
    from yorozu.settings import Settings

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_salt: bytes = b"yorozu-dev-log-salt"

_NOT_WRITTEN = ("color_message", "taskName")
"""uvicorn's ANSI-coloured twin of the message; the asyncio task name (says nothing)."""

_BODY_CARRIERS = ("slack_bolt", "slack_sdk", "aiosqlite")
"""Loggers whose messages embed request or response bodies (aiosqlite: every SQL parameter)."""

_BODY_STARTS = re.compile(r"[({\[:\n]| - ")
"""Where a library's message stops describing and starts quoting (a body, a URL, ids)."""


def hash_user_id(user_id: str) -> str:
    """A stable, salted, shortened hash of a platform user id: safe to log."""
    digest = hmac.new(_salt, user_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return "u_" + digest[:16]


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id.get()
        if rid:
            record.request_id = rid
        return True


def _cut_body(record: logging.LogRecord) -> None:
    """Cut a Slack library's message down to its description, before any quoted body.

    Bolt's messages are free-form f-strings (`Invalid request signature detected
    (signature: …, body: …)`, `request body: …`, `Unhandled request ({…})`), so there is no
    field to drop: the message is cut where quoting begins. Tracebacks stay (they carry code
    locations, which is what a failing listener needs).
    """
    if record.name.startswith(_BODY_CARRIERS):
        message = record.getMessage()
        cut = _BODY_STARTS.search(message)
        record.msg = (message[: cut.start()] if cut else message).strip() or "(redacted)"
        record.args = None


def _install_body_cutter() -> None:
    """Cut bodies where records are made, so no handler (ours, a test's, a library's) and
    no level ever sees one; a filter on our handler would leave the others with the body."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "cuts_bodies", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _cut_body(record)
        return record

    factory.cuts_bodies = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a line is written (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def json_formatter() -> JsonFormatter:
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        timestamp="ts",
        rename_fields={
            "levelname": "level",
            "name": "logger",
            "message": "msg",
            "exc_info": "exc",
        },
        reserved_attrs=[*RESERVED_ATTRS, *_NOT_WRITTEN],
        json_ensure_ascii=False,
    )


def configure_logging(settings: Settings) -> None:
    """Point the root logger at stderr in the configured form; safe to call again."""
    global _salt
    _install_body_cutter()
    _salt = settings.log_hash_salt.get_secret_value().encode("utf-8")
    handler = _Stderr()
    handler.set_name("yorozu")
    handler.addFilter(_RequestId())
    if settings.log_json:
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "yorozu"] + [handler]
    root.setLevel(settings.log_level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
