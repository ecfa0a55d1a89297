"""``orchestrator route "query"``: show the router's decision for one query."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from orchestrator.cli._common import console, handles_errors
from orchestrator.errors import ArtifactError


def _artifacts(artifacts: Path | None, config_path: Path | None) -> Path:
    if artifacts is not None:
        return artifacts
    if config_path is not None:
        from orchestrator.config import load_config

        cfg = load_config(config_path)
        folder = cfg.resolve_path(cfg.router.artifacts)
        if folder is not None:
            return folder
    raise ArtifactError("no router artifacts: pass --artifacts DIR, or --config with router.artifacts set")


@handles_errors
def route(
    query: str = typer.Argument(..., help="the query text"),
    artifacts: Path | None = typer.Option(None, "--artifacts", help="artifact folder from `orchestrator train`"),
    config: Path | None = typer.Option(None, "--config", help="experts.yaml (its router.artifacts is used without --artifacts)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    k: int | None = typer.Option(None, "--k", min=1, help="call exactly k experts (default: dynamic k)"),
    cost_weight: float | None = typer.Option(None, "--cost-weight", min=0.0, help="quality/cost dial"),
    mode: str = typer.Option("two_level", "--mode", help="two_level, category or recruiter"),
    tier: str = typer.Option("static", "--tier", help="embedding tier: static (default; MiniLM if the artifact lacks it) or minilm"),
) -> None:
    """Route one query and print the decision: category, skills, ranked experts, k, aggregator."""
    from orchestrator.router.dials import load_configured

    settings = None
    if config is not None:
        from orchestrator.config import load_config

        settings = load_config(config).router
    router, warnings = load_configured(_artifacts(artifacts, config), settings, tier=tier)
    for warning in warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    decision = router.route([query], k=k, cost_weight=cost_weight, mode=mode)[0]  # type: ignore[arg-type]
    if as_json:
        print(json.dumps(decision.to_dict(), indent=2))
        return
    from rich.table import Table

    probs = ", ".join(f"{c} {p:.2f}" for c, p in decision.category_probs.items())
    console.print(f"[bold]category[/bold] {decision.category}   ({probs})", highlight=False)
    if decision.fallback_reason:
        console.print(f"[yellow]fallback:[/yellow] {decision.fallback_reason}", highlight=False)
    console.print(f"[bold]skills[/bold] {', '.join(decision.skills) or '-'}", highlight=False)
    table = Table(title_justify="left")
    for col in ("", "expert", "score", "P(correct)", f"cost ({router.cost_unit_ or 'n/a'})"):
        table.add_column(col, justify="left" if col in ("", "expert") else "right")
    for e in decision.experts:
        mark = "[green]✓[/green]" if e.name in decision.chosen else ""
        table.add_row(mark, e.name, f"{e.score:.3f}", f"{e.predicted_quality:.3f}", "-" if e.est_cost is None else f"{e.est_cost:.4g}")
    console.print(table)
    console.print(f"[bold]k[/bold] {decision.k}: {', '.join(decision.chosen)}   [bold]aggregator[/bold] {decision.aggregator or '-'}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("route")(route)
