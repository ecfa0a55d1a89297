"""``orchestrator sim``: stand in for every expert's vLLM server with a simulator."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import typer

from orchestrator.cli._common import console, err_console, fail, handles_errors


@handles_errors
def sim(
    config: Path = typer.Option(Path("experts.yaml"), "--config", "-c", help="composition file"),
    time_scale: float | None = typer.Option(
        None, "--time-scale", min=0.0, help="override simulator.time_scale (0 = instant)"
    ),
    only: list[str] = typer.Option([], "--only", help="simulate only these experts (repeatable)"),
) -> None:
    """Start one simulated vLLM server per expert, on the port of its api_base, until Ctrl-C."""
    from rich.table import Table

    from orchestrator.config import load_config
    from services.expert_sim.launcher import SimProcess, SimSpec, SimulatorStartError, stop_all

    cfg = load_config(config)
    unknown = sorted(set(only) - set(cfg.expert_names))
    if unknown:
        raise fail(f"--only: unknown expert(s) {', '.join(unknown)}; known: {', '.join(cfg.expert_names)}")
    experts = [e for e in cfg.experts if not only or e.name in only]
    missing_base = [e.name for e in experts if e.port is None]
    if missing_base:
        raise fail(f"expert(s) without api_base cannot be simulated: {', '.join(missing_base)}")
    settings = cfg.simulator
    replay = cfg.resolve_path(settings.replay_dataset)
    if replay is not None and not replay.is_file():
        err_console.print(f"note: replay dataset {replay} not found; experts answer from templates", style="yellow")
        replay = None
    scale = settings.time_scale if time_scale is None else time_scale
    latency = [
        "--ttft-base-ms", str(settings.ttft_base_ms),
        "--ttft-per-1k-prompt-tokens-ms", str(settings.ttft_per_1k_prompt_tokens_ms),
        "--itl-ms", str(settings.itl_ms),
        "--itl-per-running-seq-ms", str(settings.itl_per_running_seq_ms),
    ]  # fmt: skip
    # `kill PID` stops as cleanly as Ctrl-C does (installed before any child starts).
    signal.signal(signal.SIGTERM, _interrupt)
    sims = [
        SimProcess(
            SimSpec(
                served_model_name=e.served_name,
                expert=e.name,
                port=e.port,
                replay=replay,
                params_b=e.params_b,
                max_num_seqs=e.vllm.max_num_seqs,
                max_model_len=e.vllm.max_model_len,
                time_scale=scale,
                seed=settings.seed,
                error_rate=settings.error_rate or None,
                stall_rate=settings.stall_rate or None,
                drop_rate=settings.drop_rate or None,
                sleep_mode=e.vllm.enable_sleep_mode,
                extra_args=tuple(latency),
            ),
            host=_host(e.api_base),
        )
        for e in experts
    ]
    try:
        for s in sims:
            s.start()
        for s in sims:
            s.wait_healthy()
    except SimulatorStartError as exc:
        stop_all(sims)
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        stop_all(sims)
        raise
    table = Table(title=f"{len(sims)} simulated vLLM servers (time scale {scale:g}; Ctrl-C stops)")
    for column in ("expert", "served model", "api_base", "params (B)", "answers"):
        table.add_column(column, overflow="fold")
    for e, s in zip(experts, sims, strict=True):
        table.add_row(
            e.name,
            e.served_name,
            s.api_base,
            f"{e.params_b:g}" if e.params_b else "-",
            "replay" if replay else "template",
        )
    console.print(table)
    try:
        while all(s.process is not None and s.process.poll() is None for s in sims):
            time.sleep(0.5)
        dead = [s.spec.expert for s in sims if s.process is None or s.process.poll() is not None]
        raise fail(f"simulator(s) exited unexpectedly: {', '.join(str(d) for d in dead)}")
    finally:
        stop_all(sims)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _host(api_base: str | None) -> str:
    from urllib.parse import urlparse

    return urlparse(api_base or "").hostname or "127.0.0.1"


def register(app: typer.Typer) -> None:
    app.command("sim")(sim)
