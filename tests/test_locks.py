"""The lock files in requirements/ pin every package with its hashes, and every install of
them (make, the image) refuses a wheel whose hash differs. A lock edited by hand, or a
dependency added to pyproject.toml without `make lock`, fails here rather than at an
operator's install."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, tuple[str, int]]:
    """name → (version, number of hashes) of one lock file."""
    found: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for line in (ROOT / "requirements" / lock).read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            current = _canonical(match.group(1))
            found[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = found[current]
            found[current] = (version, hashes + 1)
        elif not line.startswith(" "):
            current = None
    return found


def _declared(requirements: list[str]) -> set[str]:
    return {_canonical(re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0]) for r in requirements}


def test_every_pin_carries_hashes() -> None:
    for lock in ("runtime.lock", "dev.lock"):
        locked = pins(lock)
        assert locked, lock
        assert [name for name, (_, hashes) in locked.items() if hashes == 0] == [], lock


def test_the_dev_lock_is_the_runtime_lock_and_the_tools() -> None:
    """`make test` installs both into one venv: a package locked at two versions would be
    installed at whichever came last."""
    runtime = {name: version for name, (version, _) in pins("runtime.lock").items()}
    dev = {name: version for name, (version, _) in pins("dev.lock").items()}
    assert {name: dev.get(name) for name in runtime} == runtime


def test_every_declared_dependency_is_locked() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert _declared(project["dependencies"]) <= set(pins("runtime.lock"))
    assert _declared(project["optional-dependencies"]["dev"]) <= set(pins("dev.lock"))


def test_every_install_of_a_lock_requires_hashes() -> None:
    installs = [
        line
        for name in ("Makefile", "Dockerfile")
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines()
        if "pip install" in line and "-r requirements/" in line
    ]
    assert len(installs) == 3  # make's runtime and dev, the image's runtime
    assert all("--require-hashes" in line for line in installs), installs
