"""The Slack app asks for the scopes the code uses, and for no other (both directions).

The Web API methods are found in the code itself: every call of an `AsyncWebClient` method
(`client.chat_postMessage(…)`) in the service's packages, followed through slack_sdk's own
helpers down to the API methods they call (`files_upload_v2` calls
files.getUploadURLExternal and files.completeUploadExternal). Each method needs the scopes
in `METHOD_SCOPES`; a method the code starts calling that is not in that table fails here,
so a new call cannot ship without its scope, and a scope nothing needs cannot stay.
"""

from __future__ import annotations

import ast
import inspect
import re
from functools import cache
from pathlib import Path

import yaml
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.app import BOT_SCOPES

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "slack-app-manifest.yml"
SCANNED = ("bots", "core", "integrations", "scheduler", "yorozu")
NOT_THE_APP = ("integrations/standins", "yorozu/sandbox", "yorozu/emulator", "yorozu/demo")
"""Local stand-ins and the sandbox that drives them as Slack users: not our Slack app."""

METHOD_SCOPES: dict[str, frozenset[str]] = {
    # Bot scopes each Web API method needs (api.slack.com/methods/<method>, "Bot tokens").
    # chat:write.public lets chat.postMessage reach a hub's public channel the app was not
    # invited to.
    "chat.postMessage": frozenset({"chat:write", "chat:write.public"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    # Erasure (core.privacy.slack): a message the app posted, and a file it shared.
    "chat.delete": frozenset({"chat:write"}),
    "files.delete": frozenset({"files:write"}),
    # Hub channels are public or private: the history look-up before a retried post.
    "conversations.history": frozenset({"channels:history", "groups:history"}),
    "conversations.replies": frozenset({"channels:history", "groups:history"}),
    "conversations.open": frozenset({"im:write"}),
    "users.info": frozenset({"users:read"}),
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
    "views.open": frozenset(),
    "views.publish": frozenset(),
    "views.push": frozenset(),
    "views.update": frozenset(),
    "auth.test": frozenset(),
}

EVENT_SCOPES: dict[str, frozenset[str]] = {
    "app_home_opened": frozenset(),
    "app_uninstalled": frozenset(),
    "tokens_revoked": frozenset(),
    "reaction_added": frozenset({"reactions:read"}),
    "message.channels": frozenset({"channels:history"}),
    "message.groups": frozenset({"groups:history"}),
    "message.im": frozenset({"im:history"}),
}

ANNOUNCED: dict[str, str] = {
    "users:read": "users.info (the Slack user's locale)",
    "files:write": "files_upload_v2 (files.getUploadURLExternal, files.completeUploadExternal)",
    "im:history": "the message.im event subscription",
}
"""Scopes whose calls and events are being added alongside this test (issue 19): counted
as needed until the code needs them itself; delete an entry once it does."""


def _client_methods() -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(AsyncWebClient, inspect.iscoroutinefunction)
        if not name.startswith("_") and name != "api_call"
    }


@cache
def api_methods_of(client_method: str) -> frozenset[str]:
    """The Web API methods one slack_sdk client method calls, through its helpers."""
    source = inspect.getsource(getattr(AsyncWebClient, client_method))
    found = set(re.findall(r'api_call\(\s*"([^"]+)"', source))
    for callee in set(re.findall(r"self\.([A-Za-z_0-9]+)\(", source)) & _client_methods():
        if callee != client_method:
            found |= api_methods_of(callee)
    return frozenset(found)


def called_api_methods() -> dict[str, set[str]]:
    """Web API method -> the files that call it."""
    names = _client_methods()
    calls: dict[str, set[str]] = {}
    for path in sorted(p for package in SCANNED for p in (ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(NOT_THE_APP):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            methods: frozenset[str] = frozenset()
            if node.func.attr in names:
                methods = api_methods_of(node.func.attr)
            elif node.func.attr == "api_call" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    methods = frozenset({first.value})
            for method in methods:
                calls.setdefault(method, set()).add(relative)
    return calls


def manifest() -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return loaded


def manifest_bot_scopes() -> list[str]:
    return manifest()["oauth_config"]["scopes"]["bot"]  # type: ignore[index, no-any-return]


def needed_scopes() -> dict[str, str]:
    """Scope -> why: the methods called, the events subscribed, the features declared."""
    why: dict[str, str] = {}
    calls = called_api_methods()
    unmapped = sorted(set(calls) - set(METHOD_SCOPES))
    assert not unmapped, f"add the scopes of {unmapped} to METHOD_SCOPES (called in {calls})"
    for method in calls:
        for scope in METHOD_SCOPES[method]:
            why.setdefault(scope, method)
    loaded = manifest()
    events = loaded["settings"]["event_subscriptions"]["bot_events"]  # type: ignore[index]
    unmapped_events = sorted(set(events) - set(EVENT_SCOPES))
    assert not unmapped_events, f"add the scopes of events {unmapped_events} to EVENT_SCOPES"
    for event in events:
        for scope in EVENT_SCOPES[event]:
            why.setdefault(scope, f"the {event} event")
    features = loaded["features"]  # type: ignore[index]
    if features.get("slash_commands") or features.get("shortcuts"):  # type: ignore[union-attr]
        why.setdefault("commands", "the /yorozu command and the shortcuts")
    for scope, reason in ANNOUNCED.items():
        why.setdefault(scope, reason)
    return why


def test_code_calls_are_found() -> None:
    calls = called_api_methods()
    assert "chat.postMessage" in calls
    assert "integrations/slack/client.py" in calls["chat.postMessage"]
    assert api_methods_of("files_upload_v2") >= {
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    }


def test_manifest_asks_for_every_scope_the_code_needs() -> None:
    missing = {s: why for s, why in needed_scopes().items() if s not in manifest_bot_scopes()}
    assert not missing, f"slack-app-manifest.yml lacks {missing}"


def test_manifest_asks_for_nothing_the_code_does_not_need() -> None:
    needed = needed_scopes()
    unused = sorted(set(manifest_bot_scopes()) - set(needed))
    assert not unused, f"slack-app-manifest.yml asks for scopes nothing uses: {unused}"


def test_oauth_installs_ask_for_the_manifest_scopes() -> None:
    assert sorted(BOT_SCOPES) == sorted(manifest_bot_scopes())
    assert len(set(BOT_SCOPES)) == len(BOT_SCOPES)


def test_sign_in_asks_for_the_user_scopes_the_console_requests() -> None:
    app_source = (ROOT / "yorozu" / "app.py").read_text(encoding="utf-8")
    requested = re.search(r'"scope":\s*"([^"]+)"', app_source)
    assert requested
    user = manifest()["oauth_config"]["scopes"]["user"]  # type: ignore[index]
    assert sorted(user) == sorted(requested.group(1).split())


def test_app_home_messages_tab_is_on_because_the_app_sends_direct_messages() -> None:
    assert "conversations.open" in called_api_methods()  # the DM channel it posts into
    app_home = manifest()["features"]["app_home"]  # type: ignore[index]
    assert app_home["messages_tab_enabled"] is True
    assert app_home["messages_tab_read_only_enabled"] is False
