"""Start ``orchestrator serve`` as a subprocess on a free port and wait until it is ready.

For the demo, benchmarks and end-to-end tests::

    with GatewayProcess("experts.yaml", artifacts="artifacts/router") as gw:
        openai.OpenAI(base_url=gw.api_base, api_key="unused").chat.completions.create(...)

The launcher binds the listening socket itself (port 0) and passes it to the child (``--fd``),
so no other process can take the port in between. ``ready_path`` is ``/ready`` (router loaded
and every expert reachable) by default; use ``/health`` when no router is trained.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

__all__ = ["GatewayProcess", "GatewayStartError"]

REPO_ROOT = Path(__file__).resolve().parents[2]
_ENTRY = "import sys; from orchestrator.cli import main; sys.argv[0] = 'orchestrator'; main()"


class GatewayStartError(RuntimeError):
    """The gateway exited or never became ready; the message carries its log tail."""


class GatewayProcess:
    def __init__(
        self,
        config: str | os.PathLike[str],
        *,
        artifacts: str | os.PathLike[str] | None = None,
        router_tier: str = "minilm",
        host: str = "127.0.0.1",
        port: int = 0,
        ready_path: str = "/ready",
        startup_timeout_s: float = 90.0,
        env: dict[str, str] | None = None,
        log_level: str = "warning",
    ):
        self.config = Path(config)
        self.artifacts = artifacts
        self.router_tier = router_tier
        self.host = host
        self.port = port
        self.ready_path = ready_path
        self.startup_timeout_s = startup_timeout_s
        self.env = env or {}
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"

    def start(self) -> GatewayProcess:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(2048)
        self.port = sock.getsockname()[1]
        cmd = [sys.executable, "-c", _ENTRY, "serve", "--config", str(self.config), "--fd", str(sock.fileno()), "--log-level", self.log_level]
        if self.artifacts is not None:
            cmd += ["--artifacts", str(self.artifacts)]
        cmd += ["--router-tier", self.router_tier]
        log = tempfile.NamedTemporaryFile(prefix="gateway-", suffix=".log", delete=False)
        self.log_path = Path(log.name)
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        try:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),), env=env, cwd=REPO_ROOT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )  # fmt: skip
        finally:
            log.close()
            sock.close()
        return self

    def wait_ready(self) -> GatewayProcess:
        deadline = time.monotonic() + self.startup_timeout_s
        with httpx.Client(timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise GatewayStartError(f"the gateway exited:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.url}{self.ready_path}").status_code == 200:
                        return self
                time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise GatewayStartError(f"the gateway was not ready on {self.url}{self.ready_path} after {self.startup_timeout_s:.0f} s:\n{tail}")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout_s: float = 10.0) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully (lifespan closes clients)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> GatewayProcess:
        return self.start().wait_ready()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent() -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
