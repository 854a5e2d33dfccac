"""The direction of imports (DESIGN.md): core knows no platform, web, Redis or outer package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN_IN_CORE = {
    "bots",
    "integrations",
    "scheduler",
    "yorozu",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "aiohttp",
    "requests",
    "redis",
    "slack_bolt",
    "slack_sdk",
    "linebot",
    "apscheduler",
}
FORBIDDEN_IN_BOTS = {"scheduler", "yorozu"}
FORBIDDEN_IN_INTEGRATIONS = {"bots", "scheduler", "yorozu"}
FORBIDDEN_IN_SCHEDULER = {"bots", "yorozu"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("core", FORBIDDEN_IN_CORE),
        ("bots", FORBIDDEN_IN_BOTS),
        ("integrations", FORBIDDEN_IN_INTEGRATIONS),
        ("scheduler", FORBIDDEN_IN_SCHEDULER),
    ],
)
def test_package_imports_point_inwards(package: str, forbidden: set[str]) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & forbidden)
        for path in sorted((ROOT / package).rglob("*.py"))
        if imported_roots(path) & forbidden
    }
    assert offenders == {}


def test_the_guard_sees_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("import redis\nfrom slack_sdk import WebClient\nfrom . import x\n")
    assert imported_roots(sample) == {"redis", "slack_sdk"}
