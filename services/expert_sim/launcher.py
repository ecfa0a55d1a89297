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
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.process import ServerProcess, ServerStartError


class SimulatorStartError(ServerStartError):
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


class SimProcess(ServerProcess):
    """One running simulator (``SimProcess(spec).start().wait_healthy()``, or a ``with`` block)."""

    start_error = SimulatorStartError

    def __init__(self, spec: SimSpec, host: str = "127.0.0.1", startup_timeout_s: float = 30.0):
        super().__init__(name=f"simulator {spec.served_model_name!r}", host=host, port=spec.port, startup_timeout_s=startup_timeout_s)
        self.spec = spec

    @property
    def served_model_name(self) -> str:
        return self.spec.served_model_name

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "services.expert_sim", "--host", self.host, *self.spec.argv()]

    def start(self) -> SimProcess:
        super().start()
        return self

    def wait_healthy(self) -> SimProcess:
        self.wait_ready()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        super().stop(timeout_s)

    def __enter__(self) -> SimProcess:
        return self.start().wait_healthy()


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
