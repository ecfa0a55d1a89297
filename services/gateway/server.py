"""Running the gateway: :func:`serve` (blocking, what ``orchestrator serve`` calls) and
:class:`ThreadedServer` (in-process, on a free port, for tests and benchmarks)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from typing import Any

from orchestrator.config import Config
from orchestrator.router.artifact import DEFAULT_TIER
from services.gateway.middleware import RequestIdFilter

__all__ = ["ThreadedServer", "configure_logging", "serve"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger("orchestrator")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def _uvicorn_config(app: Any, **kwargs: Any) -> Any:
    import uvicorn

    return uvicorn.Config(
        app, access_log=False, lifespan="on", timeout_keep_alive=30, backlog=2048, log_config=None, **kwargs
    )


def serve(
    config: Config, *, host: str | None = None, port: int | None = None, fd: int | None = None,
    artifacts: str | None = None, router_tier: str = DEFAULT_TIER, log_level: str = "info",
) -> None:  # fmt: skip
    """Build the app from ``config`` and serve it until interrupted."""
    import uvicorn

    from orchestrator.router.two_level import pin_single_thread_blas
    from services.gateway.app import create_app

    configure_logging(log_level)
    pin_single_thread_blas()  # this process's BLAS work is routing's small products
    app = create_app(config, artifacts=artifacts, router_tier=router_tier)
    if fd is None:
        uvicorn.Server(_uvicorn_config(app, log_level=log_level, host=host or config.gateway.host, port=port or config.gateway.port)).run()
        return
    # Not uvicorn's own ``fd=``: it wraps the socket as AF_UNIX, so asyncio never sets
    # TCP_NODELAY on accepted connections and every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(fileno=fd)  # family, type and protocol read from the kernel
    uvicorn.Server(_uvicorn_config(app, log_level=log_level)).run(sockets=[sock])


class ThreadedServer:
    """Serve an ASGI app on 127.0.0.1 in a background thread (its own event loop)::

        with ThreadedServer(create_app(config)) as server:
            httpx.get(f"{server.url}/health")
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, startup_timeout_s: float = 60.0):
        import uvicorn

        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say they are TCP.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        self._server = uvicorn.Server(_uvicorn_config(app, log_level="warning"))
        self._thread = threading.Thread(target=self._run, name="gateway-server", daemon=True)
        self._startup_timeout_s = startup_timeout_s
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._error = exc

    def start(self) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the gateway did not start: {self._error!r}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
