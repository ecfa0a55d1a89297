"""Prepare, list and stop the real vLLM experts of a composition (``orchestrator models ...``).

``prepare`` is idempotent: the venv, the wheels, the converted folders and healthy servers that
are already there are reused. Weights are prepared one expert at a time (conversion is memory
hungry); the servers then start together, each pinned to its own core, and ``prepare`` returns
once every one answers ``/health``. A server that fails names its expert; the ones this call
started are stopped again so a failed prepare leaves nothing half-running.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from orchestrator.config import Config, ExpertConfig
from services.vllm_cpu.errors import ModelPrepareError
from services.vllm_cpu.server import RunningServer, VllmServer, ensure_venv, running, stop_server
from services.vllm_cpu.weights import cache_dir, ensure_model_dir

__all__ = ["prepare", "real_experts", "status", "stop"]

Say = Callable[[str], None]


def real_experts(config: Config, only: list[str] | None = None) -> list[ExpertConfig]:
    """The experts with pinned ``weights`` (optionally only the named ones, which must exist)."""
    for name in only or []:
        expert = config.expert(name)  # raises naming an unknown expert
        if expert.weights is None:
            raise ModelPrepareError(name, "has no `weights:` section in the composition: nothing to prepare")
    experts = [e for e in config.experts if e.weights is not None and (not only or e.name in only)]
    if not experts:
        raise ModelPrepareError("*", f"no expert in {config.source or 'the composition'} has a `weights:` section")
    return experts


def prepare(config: Config, *, only: list[str] | None = None, root: Path | None = None, venv: Path | None = None,
            startup_timeout_s: float = 600.0, say: Say = print) -> list[RunningServer]:  # fmt: skip
    root = root or cache_dir()
    experts = real_experts(config, only)
    python = ensure_venv(venv)
    dirs: dict[str, Path] = {}
    for e in experts:
        say(f"{e.name}: weights (verify pins, convert once to {root / 'hf'})")
        dirs[e.name] = ensure_model_dir(e, python, root)
    cores = os.cpu_count() or 1
    started: list[VllmServer] = []
    try:
        for i, e in enumerate(experts):
            existing = running(e.name, root)
            if existing is not None and existing.url != (e.server_root or ""):
                say(f"{e.name}: running on {existing.url}, the composition says {e.api_base}: restarting it there")
                stop_server(existing, root)
                existing = None
            if existing is not None and existing.healthy():
                say(f"{e.name}: already serving on {existing.url}")
                continue
            if existing is not None:
                stop_server(existing, root)
            say(f"{e.name}: starting vLLM on {e.api_base} (core {i % cores})")
            started.append(VllmServer(e, dirs[e.name], python, core=i % cores, root=root, startup_timeout_s=startup_timeout_s).start())
        for server in started:
            server.wait_ready()
            say(f"{server.expert.name}: healthy on {server.url}")
    except BaseException:
        for server in started:
            server.stop()
        raise
    return [s for s in (running(e.name, root) for e in experts) if s is not None]


def status(config: Config, root: Path | None = None) -> list[tuple[str, RunningServer | None]]:
    return [(e.name, running(e.name, root)) for e in config.experts if e.weights is not None]


def stop(config: Config, *, only: list[str] | None = None, root: Path | None = None) -> list[str]:
    """Stop the named (default: every) real expert that runs; returns the names stopped."""
    stopped = []
    for e in real_experts(config, only):
        server = running(e.name, root)
        if server is not None:
            stop_server(server, root)
            stopped.append(e.name)
    return stopped
