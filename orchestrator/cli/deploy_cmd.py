"""``orchestrator deploy render``: deployment files from experts.yaml, per target."""

from __future__ import annotations

from pathlib import Path

import typer

from orchestrator.cli._common import console, handles_errors

deploy_app = typer.Typer(help="Render deployments (vLLM script, docker compose, Helm values, Ray Serve) from experts.yaml.", no_args_is_help=True)

_TARGETS = ("vllm", "compose", "k8s", "ray")


@deploy_app.command("render")
@handles_errors
def render_cmd(
    config: Path = typer.Option(Path("experts.yaml"), "--config", help="composition file"),
    out: Path = typer.Option(Path("deploy"), "--out", help="folder to write into"),
    target: list[str] = typer.Option(
        [], "--target", help="vllm | compose | k8s | ray (repeatable; default: all of them)", show_default=False
    ),
    gpus: int = typer.Option(8, "--gpus", min=1, help="GPUs per node to pack the experts onto"),
    gpu_memory_gb: float = typer.Option(80.0, "--gpu-memory-gb", min=1.0, help="memory of one GPU"),
    ray_serve_url: str = typer.Option("http://127.0.0.1:8000", "--ray-serve-url", help="where Ray Serve answers (ray target)"),
) -> None:
    """vllm: launch_vllm.sh (experts packed onto GPUs by memory); compose: docker-compose.yaml +
    experts.compose.yaml; k8s: k8s-values.yaml for deploy/helm/expert-orchestrator; ray:
    ray-serve.yaml + experts.ray.yaml (the gateway pointed at Ray Serve)."""
    from orchestrator.config import load_config
    from orchestrator.deploy import render, write

    bad = [t for t in target if t not in _TARGETS]
    if bad:
        raise typer.BadParameter(f"unknown target {', '.join(bad)}; choose from {', '.join(_TARGETS)}", param_hint="--target")
    rendered = render(
        load_config(config),
        config.read_text(encoding="utf-8"),
        targets=target or _TARGETS,
        gpus=gpus,
        gpu_memory_gb=gpu_memory_gb,
        ray_serve_url=ray_serve_url,
    )
    for path in write(rendered, out):
        console.print(f"wrote {path}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(deploy_app, name="deploy")
