"""``orchestrator train``: fit the two-level router and write its artifact folder."""

from __future__ import annotations

from pathlib import Path

import typer

from orchestrator.cli._common import console, err_console, handles_errors


@handles_errors
def train(
    data: Path = typer.Option(..., "--data", help="routing dataset (JSONL); fits on split=train rows, or all rows without splits"),
    out: Path = typer.Option(..., "--out", help="artifact folder to write"),
    config: Path | None = typer.Option(None, "--config", help="experts.yaml: experts are the data's ∩ the config's"),
    categories: Path | None = typer.Option(None, "--categories", help="categories.jsonl-style file for the category head"),
    seed: int = typer.Option(0, "--seed", help="seed of folds, clustering and sampling"),
    profile_out: Path | None = typer.Option(None, "--profile-out", help="write a YAML profile section for experts.yaml"),
    static_tier: bool = typer.Option(True, "--static-tier/--no-static-tier", help="distil the static embedding tier `serve` routes on by default (seconds once MiniLM's per-token pass is cached)"),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="embedding cache folder (default: $ORCHESTRATOR_CACHE_DIR/embeddings or ~/.cache/orchestrator/embeddings)"),
    embedding_cache: bool = typer.Option(True, "--embedding-cache/--no-embedding-cache", help="cache prompt embeddings on disk"),
) -> None:
    """Fit the router (category head, skill profiles, cross-validated quality blend) and save it."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from router_training.train import train_router

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task("loading", total=None)
        report = train_router(
            data, out, config_path=config, categories_path=categories, seed=seed, profile_out=profile_out,
            static_tier=static_tier, cache_dir=cache_dir, use_cache=embedding_cache, progress=lambda msg: bar.update(task, description=msg),
        )
    if report.only_in_data:
        err_console.print(f"warning: experts in the data but not in the config (not routed to): {', '.join(report.only_in_data)}", style="yellow", soft_wrap=True)
    if report.only_in_config:
        err_console.print(f"warning: experts in the config but not in the data (no scores, not routed to): {', '.join(report.only_in_config)}", style="yellow", soft_wrap=True)
    console.print(f"[green]trained[/green] on {report.rows} rows, {len(report.experts)} experts, {len(report.categories)} categories -> {report.out}", highlight=False)
    blend = ", ".join(f"{k}={v:g}" for k, v in report.blend.items())
    console.print(f"cross-validated routing accuracy {report.cv_accuracy:.3f}; blend: {blend}; cost unit: {report.cost_unit or 'none'}", highlight=False, soft_wrap=True)
    if report.cv_policies:
        from orchestrator.router.blend import describe_policies

        console.print(f"on the same folds, at the default cost weight: {describe_policies(report.cv_policies)}", highlight=False, soft_wrap=True)
    for signal, dials in report.escalation.items():
        console.print(f"escalation dial ({report.escalation_tier} tier), signal {signal}: " + "; ".join(
            f"{dial} = {d['learner'] + ' model, ' if 'learner' in d else ''}threshold {d['threshold']:g}, {d['probes']} probe(s) at cost weight {d['probe_cost_weight']:g}, {d['max_tiers']} tiers, "
            f"merge {d['merge']} (CV accuracy {d['train_accuracy']:.3f})" for dial, d in dials.items()), highlight=False, soft_wrap=True)
    lacking: dict[str, list[str]] = {}
    for signal, why in report.escalation_untuned.items():
        lacking.setdefault(why, []).append(signal)
    for why, signals in lacking.items():
        console.print(f"no escalation dial for {', '.join(signals)}: {why} in this data", highlight=False, soft_wrap=True)
    if report.profile_out is not None:
        console.print(f"profile section written to {report.profile_out}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
