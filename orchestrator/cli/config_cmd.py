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
    cascade = _check_default_cascade(cfg)
    roles = sorted({r for e in cfg.experts for r in e.roles})
    console.print(
        f"[green]ok[/green] {path}: {len(cfg.experts)} experts ({', '.join(cfg.expert_names)}); roles: {', '.join(roles)}",
        highlight=False,
        soft_wrap=True,
    )
    if cascade:
        console.print(cascade, highlight=False, soft_wrap=True)


def _check_default_cascade(cfg) -> str | None:
    """escalation.default's dial against the router artifact `serve` would load, when it is there
    (:class:`ConfigError` at the dial's line; the gateway checks again at start-up, since the
    artifact may be trained later); what was checked, for the summary."""
    from orchestrator.pipeline.runner import deployment_cascade
    from orchestrator.router.artifact import DEFAULT_TIER, tuned_escalation

    opts = cfg.escalation.default
    if opts is None or opts.dial is None:
        return None
    what = f"escalation.default: dial {opts.dial!r} for signal {opts.signal!r}"
    artifacts = cfg.resolve_path(cfg.router.artifacts)
    if artifacts is None or not artifacts.is_dir():
        return f"{what} is checked when the gateway loads the router artifact ({artifacts or 'router.artifacts is not set'}: not there yet)"
    deployment_cascade(cfg, tuned_escalation(artifacts, DEFAULT_TIER))
    return f"{what} is in {artifacts} ({DEFAULT_TIER} tier)"


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
