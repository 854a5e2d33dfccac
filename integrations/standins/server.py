"""Run an ASGI app on a real local port, in a background thread, with uvicorn.

    with ServerThread(create_line_api(...).app) as server:
        httpx.get(server.url + "/v2/bot/message/quota")

or, in a pytest fixture::

    @pytest.fixture
    def line_server():
        server = ServerThread(app).start()
        yield server
        server.stop()

Port 0 (the default) picks a free port; :attr:`ServerThread.port` and
:attr:`ServerThread.url` tell which one after :meth:`ServerThread.start`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import uvicorn

__all__ = ["ServerThread", "serve"]


class ServerThread:
    """uvicorn serving ``app`` from a daemon thread with its own event loop."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_level: str = "warning",
        startup_timeout: float = 10.0,
        **uvicorn_options: Any,
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.startup_timeout = startup_timeout
        self._options: dict[str, Any] = {
            "log_level": log_level,
            "lifespan": "auto",
            "ws": "none",  # no websockets import (its deprecation warnings become errors)
            "access_log": False,
            "timeout_graceful_shutdown": 1,
            **uvicorn_options,
        }
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None
        self.port: int = port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("server not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    base_url = url

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> ServerThread:
        if self._server is not None:
            raise RuntimeError("server already started")
        # Bind the socket here, so the port is known (and ours) before the thread starts.
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto is TCP, and without it every keep-alive answer waits ~40 ms (Nagle).
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.requested_port))
        sock.set_inheritable(True)
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, host=self.host, port=self.port, **self._options)
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=self._run, name=f"standin-server-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if self._error is not None or not self._thread.is_alive():
                self._cleanup_socket()
                raise RuntimeError(f"server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("server did not start in time")
            time.sleep(0.005)
        return self

    def _run(self) -> None:
        assert self._server is not None
        assert self._socket is not None
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except BaseException as exc:  # surfaced by start()
            self._error = exc

    def _cleanup_socket(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None

    def stop(self, timeout: float = 5.0) -> None:
        """Ask uvicorn to exit and wait for the thread (idempotent)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._cleanup_socket()
        self._thread = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def serve(app: Any, host: str = "127.0.0.1", port: int = 0, **options: Any) -> Iterator[str]:
    """Serve ``app`` for the duration of the ``with`` block; yields the base URL."""
    with ServerThread(app, host, port, **options) as server:
        yield server.url
