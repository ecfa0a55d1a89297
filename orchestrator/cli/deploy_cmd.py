"""``orchestrator deploy render``: vLLM launch files from experts.yaml."""

from __future__ import annotations

from pathlib import Path

import typer

from orchestrator.cli._common import console, handles_errors

deploy_app = typer.Typer(help="Render vLLM deployments (script, docker compose, Ray Serve) from experts.yaml.", no_args_is_help=True)


@deploy_app.command("render")
@handles_errors
def render_cmd(
    config: Path = typer.Option(Path("experts.yaml"), "--config", help="composition file"),
    out: Path = typer.Option(Path("deploy"), "--out", help="folder to write into"),
) -> None:
    """Write launch_vllm.sh, docker-compose.yaml, ray-serve.yaml and experts.compose.yaml for the configured experts."""
    from orchestrator.config import load_config
    from orchestrator.deploy import render, write

    for path in write(render(load_config(config), config.read_text(encoding="utf-8")), out):
        console.print(f"wrote {path}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(deploy_app, name="deploy")
