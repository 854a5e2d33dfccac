"""Every `yorozu …` command line written in README.md (and the data and docs notes) is a
command of the CLI, with options it has: an operator copies them as they are."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from yorozu.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", ROOT / "yorozu" / "data" / "README.md", *ROOT.glob("docs/*.md")]
_SNIPPET = re.compile(r"`(?:docker compose exec (?:-T )?api )?(yorozu(?: [^`]+)?)`")


def snippets() -> list[str]:
    found = {
        " ".join(match.group(1).split())
        for document in DOCUMENTS
        for match in _SNIPPET.finditer(document.read_text(encoding="utf-8"))
    }
    return sorted(found)


def _variants(snippet: str) -> list[list[str]]:
    """The command lines a snippet stands for: `worker|dispatcher` is two, `[--x]` is --x."""
    lines: list[list[str]] = [[]]
    for raw in snippet.replace("\\|", "|").split()[1:]:
        token = raw.strip("[]")
        if token == "…":  # "a `yorozu …` line": any command
            continue
        parts = token.split("|")
        if len(parts) > 1 and not any(p.startswith("-") for p in parts) and parts[0].isalpha():
            lines = [[*line, part] for line in lines for part in parts]  # alternative commands
        else:
            lines = [[*line, *parts] for line in lines]
    return lines


def _options(command: Any) -> set[str]:
    return {name for param in command.params for name in (*param.opts, *param.secondary_opts)}


def test_the_documents_name_commands() -> None:
    assert len(snippets()) >= 20


@pytest.mark.parametrize("snippet", snippets())
def test_each_documented_command_line_is_real(snippet: str) -> None:
    root: Any = get_command(app)  # typer's own copy of click: groups known by `commands`
    for line in _variants(snippet):
        command = root
        words = list(line)
        while words and words[0] in getattr(command, "commands", {}):
            command = command.commands[words.pop(0)]
        is_group = hasattr(command, "commands")
        assert not (is_group and words and not words[0].startswith("-")), (snippet, words)
        known = _options(command) | (_options(root) if command is root else set())
        unknown = [w for w in words if w.startswith("--") and w not in known]
        assert unknown == [], (snippet, command.name)
