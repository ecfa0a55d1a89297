"""``orchestrator config validate``."""

from __future__ import annotations

from pathlib import Path

import typer

from orchestrator.cli._common import console, handles_errors

config_app = typer.Typer(help="Check and inspect experts.yaml.", no_args_is_help=True)


@config_app.command("validate")
@handles_errors
def validate(path: Path = typer.Argument(Path("experts.yaml"), help="composition file to check")) -> None:
    """Validate a composition file: exit 0 with a summary, or exit 2 with one line per problem."""
    from orchestrator.config import load_config

    cfg = load_config(path)
    roles = sorted({r for e in cfg.experts for r in e.roles})
    console.print(
        f"[green]ok[/green] {path}: {len(cfg.experts)} experts ({', '.join(cfg.expert_names)}); roles: {', '.join(roles)}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
