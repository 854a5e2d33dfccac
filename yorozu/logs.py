"""Structured JSON logs with a request id, and never personal data (invariant 9).

Platform user ids are hashed with a salt before they reach a log line, so logs can still be
correlated per person without identifying anyone.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from yorozu.settings import Settings

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_salt: bytes = b"yorozu-dev-log-salt"

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def hash_user_id(user_id: str) -> str:
    """A stable, salted, shortened hash of a platform user id: safe to log."""
    digest = hmac.new(_salt, user_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return "u_" + digest[:16]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            payload["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(settings: Settings) -> None:
    global _salt
    _salt = settings.log_hash_salt.get_secret_value().encode("utf-8")
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
