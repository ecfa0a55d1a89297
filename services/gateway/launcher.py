"""Start ``orchestrator serve`` as a subprocess on a free port and wait until it is ready.

For the demo, benchmarks and end-to-end tests::

    with GatewayProcess("experts.yaml", artifacts="artifacts/router") as gw:
        openai.OpenAI(base_url=gw.api_base, api_key="unused").chat.completions.create(...)

The launcher binds the listening socket itself (port 0) and passes it to the child (``--fd``),
so no other process can take the port in between. ``ready_path`` is ``/ready`` (router loaded
and every expert reachable) by default; use ``/health`` when no router is trained.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from services.process import ServerProcess, ServerStartError

__all__ = ["GatewayProcess", "GatewayStartError"]


class GatewayStartError(ServerStartError):
    """The gateway exited or never became ready; the message carries its log tail."""


class GatewayProcess(ServerProcess):
    start_error = GatewayStartError
    stop_signal = signal.SIGINT  # uvicorn shuts down gracefully (lifespan closes clients)

    def __init__(
        self,
        config: str | os.PathLike[str],
        *,
        artifacts: str | os.PathLike[str] | None = None,
        router_tier: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ready_path: str = "/ready",
        startup_timeout_s: float = 90.0,
        env: dict[str, str] | None = None,
        log_level: str = "warning",
    ):
        super().__init__(name="gateway", host=host, port=port, ready_path=ready_path, startup_timeout_s=startup_timeout_s, env=env)
        self.config = Path(config)
        self.artifacts = artifacts
        self.router_tier = router_tier
        self.log_level = log_level

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "orchestrator", "serve", "--config", str(self.config), "--log-level", self.log_level]
        if self.artifacts is not None:
            cmd += ["--artifacts", str(self.artifacts)]
        # None: serve's own default tier (orchestrator.router.artifact.DEFAULT_TIER).
        return cmd if self.router_tier is None else [*cmd, "--router-tier", self.router_tier]

    def start(self) -> GatewayProcess:
        super().start()
        return self

    def wait_ready(self) -> GatewayProcess:
        super().wait_ready()
        return self

    def __enter__(self) -> GatewayProcess:
        return self.start().wait_ready()
