"""What reaches the logs: one JSON object a line from every library, and nothing a person typed.

The logs are set up as every `yorozu` command sets them up (`configure_logging`), at DEBUG,
and read where an operator reads them: stderr.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from integrations.standins.server import ServerThread
from integrations.standins.signing import slack_headers
from yorozu.app import create_app
from yorozu.logs import configure_logging, request_id
from yorozu.settings import Settings, load_settings

PHONE = "090-4417-2368"
NAME = "山田花子"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        database_url=f"sqlite:///{tmp_path}/y.db", redis_url=None, log_level="DEBUG"
    )


@pytest.fixture
def logs_configured(settings: Settings) -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(settings)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


@pytest.mark.usefixtures("logs_configured")
def test_lines_are_json_with_request_id_and_exception(capsys: pytest.CaptureFixture[str]) -> None:
    token = request_id.set("req-42")
    try:
        logging.getLogger("yorozu.test").info("case claimed", extra={"case_id": 7})
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("yorozu.test").exception("handler failed")
    finally:
        request_id.reset(token)
    first, second = _lines(capsys.readouterr().err)
    assert first["msg"] == "case claimed"
    assert first["level"] == "INFO"
    assert first["logger"] == "yorozu.test"
    assert first["case_id"] == 7
    assert first["request_id"] == "req-42"
    assert str(first["ts"]).startswith("20")
    assert "RuntimeError: boom" in str(second["exc"])


@pytest.mark.usefixtures("logs_configured")
def test_uvicorn_lines_carry_no_colour_codes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in a fresh `yorozu api` process (log_config=None): uvicorn's loggers propagate to
    # ours. An earlier test in this process may have run uvicorn with its own log config.
    for name in ("uvicorn", "uvicorn.error"):
        monkeypatch.setattr(logging.getLogger(name), "handlers", [])
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
    app = FastAPI()
    with ServerThread(app, log_config=None, log_level="info") as server:
        httpx.get(server.url + "/nothing-here")
    err = capsys.readouterr().err
    lines = _lines(err)  # every line parses: nothing but JSON on stderr
    assert any(str(line["msg"]).startswith("Started server process") for line in lines)
    assert "\x1b[" not in err
    assert all("color_message" not in line for line in lines)


async def test_forged_slack_request_body_reaches_no_log(
    settings: Settings,
    logs_configured: None,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    view = {"type": "modal", "state": {"values": {"b": {"a": {"value": f"{NAME} {PHONE}"}}}}}
    payload = {"type": "view_submission", "view": view, "user": {"id": "U0FORGER01"}}
    body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()
    headers = slack_headers("not-the-signing-secret", body, int(time.time()))
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    app = create_app(settings, prepare=True)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        response = await client.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    written = capsys.readouterr().err
    recorded = "\n".join(
        f"{r.getMessage()} {vars(r)}" for r in caplog.records
    )  # every level, every field, every logger
    assert "Invalid request signature detected" in written  # Bolt did log the refusal
    for text in (written, recorded, caplog.text):
        for secret in (PHONE, NAME, "U0FORGER01"):
            assert secret not in text
