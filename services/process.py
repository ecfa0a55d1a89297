"""A server run as a child process on a socket bound here: start, wait until ready, stop.

The listening socket is bound in this process (port 0 picks a free one) and handed to the
child with ``--fd``, so no other process can take the port in between. The child's output
goes to a temporary log file (a pipe nobody reads could fill up and block it), and the child
gets SIGTERM if this process dies (Linux ``PR_SET_PDEATHSIG``), so a killed test run leaves
no orphans. The simulator and gateway launchers are thin subclasses.
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

__all__ = ["REPO_ROOT", "ServerProcess", "ServerStartError"]

REPO_ROOT = Path(__file__).resolve().parents[1]


class ServerStartError(RuntimeError):
    """The server exited or never became ready; the message carries its log tail."""


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ServerProcess:
    """One server child process. Subclasses supply the command (``_command``) and a name."""

    start_error: type[ServerStartError] = ServerStartError
    stop_signal: int = signal.SIGTERM

    def __init__(
        self,
        *,
        name: str,
        host: str = "127.0.0.1",
        port: int | None = None,
        ready_path: str = "/health",
        startup_timeout_s: float = 30.0,
        env: dict[str, str] | None = None,
    ):
        self.name = name
        self.host = host
        self.port = port or 0
        self.ready_path = ready_path
        self.startup_timeout_s = startup_timeout_s
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:43121``."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """The OpenAI base URL, ``<url>/v1``."""
        return f"{self.url}/v1"

    def _command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> ServerProcess:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(2048)
        self.port = sock.getsockname()[1]
        fd, log_name = tempfile.mkstemp(prefix=f"{self.name.replace('/', '_').replace(' ', '-')}-", suffix=".log")
        log = os.fdopen(fd, "wb")
        self.log_path = Path(log_name)
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        try:
            self.process = subprocess.Popen(
                [*self._command(), "--fd", str(sock.fileno())], stdout=log, stderr=subprocess.STDOUT,
                pass_fds=(sock.fileno(),), env=env, cwd=REPO_ROOT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )  # fmt: skip
        finally:
            log.close()
            sock.close()  # the child holds its own copy
        return self

    def wait_ready(self) -> ServerProcess:
        deadline = time.monotonic() + self.startup_timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise self.start_error(f"{self.name} exited:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.url}{self.ready_path}").status_code == 200:
                        return self
                time.sleep(0.05)
        tail = self.log_tail()
        self.stop()
        raise self.start_error(f"{self.name} not ready on {self.url}{self.ready_path} after {self.startup_timeout_s:.0f} s:\n{tail}")

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def terminate(self) -> None:
        """Signal the process to stop without waiting; :meth:`stop` finishes the job."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(self.stop_signal)

    def stop(self, timeout_s: float = 10.0) -> None:
        proc, self.process = self.process, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(self.stop_signal)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> ServerProcess:
        return self.start().wait_ready()

    def __exit__(self, *exc: object) -> None:
        self.stop()
