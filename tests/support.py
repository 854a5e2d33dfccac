"""Shared test constants and helpers (importable, unlike conftest fixtures)."""

from __future__ import annotations

import os

import pytest

POSTGRES_URL = os.environ.get(
    "YOROZU_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("YOROZU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(what: str, why: Exception) -> None:
    message = f"{what} is not reachable ({type(why).__name__}: {why})"
    if IN_CI:
        pytest.fail(f"{message}; CI needs it, see README 'Tests'", pytrace=False)
    pytest.skip(message)
