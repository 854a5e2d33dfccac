"""Run the ASGI app with uvicorn for a given set of roles."""

from __future__ import annotations

from typing import Literal

import uvicorn

from yorozu.app import BackgroundRole, create_app
from yorozu.settings import Settings

RoleSet = Literal["api", "all"]


def background_roles(roles: RoleSet) -> list[BackgroundRole]:
    if roles == "api":
        return []
    from yorozu import roles as role_module

    return list(role_module.EMBEDDED_ROLES)


def run_http(settings: Settings, *, host: str, port: int, roles: RoleSet) -> None:
    """`all` is serve: with the emulator the background roles share the API's loop (they
    must see the clock it moves); otherwise they run in a child process (yorozu/background.py)."""
    emulator = roles == "all" and settings.emulator_on
    in_process = background_roles(roles) if emulator else []
    app = create_app(
        settings,
        prepare=roles == "all",
        background=in_process,
        emulator=emulator,
        background_process=roles == "all" and not emulator,
        freeze_heap=True,
    )
    if emulator:
        shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
        print(f"emulator: http://{shown}:{port}/emulator", flush=True)
    uvicorn.run(app, host=host, port=port, log_config=None, proxy_headers=True)
