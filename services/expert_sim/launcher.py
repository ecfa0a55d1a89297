"""Start simulated vLLM servers as real subprocesses, wait until healthy, stop them cleanly.

Used by tests (``tests/conftest.py``), benchmarks and ``orchestrator sim``::

    with start_simulators([SimSpec("expert-a"), SimSpec("expert-b", time_scale=0)]) as sims:
        sims[0].api_base   # "http://127.0.0.1:<port>/v1"

With ``port=None`` (the default) the launcher binds a listening socket on port 0 itself and
hands it to the child, so there is no window in which another process can take the port.
Children get SIGTERM if this process dies (Linux ``PR_SET_PDEATHSIG``), so a killed test run
leaves no orphans.
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


class SimulatorStartError(RuntimeError):
    """A simulator process exited or never became healthy; the message carries its log tail."""


@dataclass(frozen=True)
class SimSpec:
    """How to start one simulator; fields mirror ``python -m services.expert_sim`` flags."""

    served_model_name: str
    expert: str | None = None
    port: int | None = None
    replay: str | Path | None = None
    params_b: float | None = None
    max_num_seqs: int | None = None
    max_model_len: int | None = None
    time_scale: float | None = 0.0
    error_rate: float | None = None
    stall_rate: float | None = None
    stall_s: float | None = None
    drop_rate: float | None = None
    slow_stream_ms: float | None = None
    api_key: str | None = None
    seed: int | None = None
    sleep_mode: bool = True
    extra_args: tuple[str, ...] = ()

    def argv(self) -> list[str]:
        args = ["--served-model-name", self.served_model_name]
        for name in (
            "expert", "replay", "params_b", "max_num_seqs", "max_model_len", "time_scale", "error_rate",
            "stall_rate", "stall_s", "drop_rate", "slow_stream_ms", "api_key", "seed",
        ):  # fmt: skip
            value = getattr(self, name)
            if value is not None:
                args += [f"--{name.replace('_', '-')}", str(value)]
        if not self.sleep_mode:
            args.append("--no-sleep-mode")
        return args + list(self.extra_args)


@dataclass
class SimProcess:
    """One running simulator."""

    spec: SimSpec
    host: str = "127.0.0.1"
    startup_timeout_s: float = 30.0
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log_path: Path | None = None

    @property
    def url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:43121`` (``/health``, ``/metrics``, ``/sleep``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """The OpenAI base URL, ``<url>/v1`` (what ``ExpertConfig.api_base`` holds)."""
        return f"{self.url}/v1"

    @property
    def served_model_name(self) -> str:
        return self.spec.served_model_name

    def start(self) -> SimProcess:
        sock: socket.socket | None = None
        cmd = [sys.executable, "-m", "services.expert_sim", "--host", self.host, *self.spec.argv()]
        pass_fds: tuple[int, ...] = ()
        if self.spec.port is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, 0))
            sock.listen(2048)
            self.port = sock.getsockname()[1]
            cmd += ["--fd", str(sock.fileno())]
            pass_fds = (sock.fileno(),)
        else:
            self.port = self.spec.port
            cmd += ["--port", str(self.port)]
        # The child writes its log to a file (a pipe nobody reads could fill up and block it).
        fd, log_name = tempfile.mkstemp(prefix=f"sim-{self.spec.served_model_name.replace('/', '_')}-", suffix=".log")
        log = os.fdopen(fd, "wb")
        self.log_path = Path(log_name)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        }
        try:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, pass_fds=pass_fds, env=env, cwd=REPO_ROOT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )  # fmt: skip
        finally:
            log.close()
            if sock is not None:
                sock.close()  # the child holds its own copy
        return self

    def wait_healthy(self) -> SimProcess:
        deadline = time.monotonic() + self.startup_timeout_s
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise SimulatorStartError(f"simulator {self.spec.served_model_name!r} exited:\n{self.log_tail()}")
                try:
                    if client.get(f"{self.url}/health").status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        self.stop()
        name, waited = self.spec.served_model_name, self.startup_timeout_s
        raise SimulatorStartError(
            f"simulator {name!r} not healthy on {self.url} after {waited:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM) without waiting; :meth:`stop` finishes the job."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def stop(self, timeout_s: float = 5.0) -> None:
        proc, self.process = self.process, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> SimProcess:
        return self.start().wait_healthy()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies, so nothing is orphaned."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def start_simulators(specs: Sequence[SimSpec], startup_timeout_s: float = 30.0) -> Iterator[list[SimProcess]]:
    """Start every spec in parallel, wait for all to be healthy, stop them all on exit."""
    sims = [SimProcess(spec, startup_timeout_s=startup_timeout_s) for spec in specs]
    try:
        for sim in sims:
            sim.start()
        for sim in sims:
            sim.wait_healthy()
        yield sims
    finally:
        stop_all(sims)


def stop_all(sims: Sequence[SimProcess]) -> None:
    """Stop several simulators at once: signal them all, then wait for each."""
    for sim in sims:
        sim.terminate()
    for sim in sims:
        sim.stop()
