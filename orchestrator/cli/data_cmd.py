"""``orchestrator data inspect`` and ``orchestrator data convert``."""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from pathlib import Path

import typer
from rich.table import Table

from orchestrator.cli._common import console, handles_errors

data_app = typer.Typer(help="Inspect and convert routing datasets.", no_args_is_help=True)


class SourceFormat(str, Enum):
    routerbench_csv = "routerbench-csv"
    prompt_category = "prompt-category"


def _fmt_cost(value: float | None, unit: str | None) -> str:
    if value is None:
        return "-"
    if unit == "usd":
        return f"${value * 1000:.3f}/1k"
    return f"{value:.1f} {unit}"


@data_app.command("inspect")
@handles_errors
def inspect(
    path: Path = typer.Argument(..., help="routing dataset (JSONL)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Rows, experts, tasks, best single expert, oracle and per-category statistics."""
    from orchestrator.data import load_dataset, summarize

    summary = summarize(load_dataset(path))
    if as_json:
        print(json.dumps(dataclasses.asdict(summary), indent=2))
        return
    console.print(f"[bold]{summary.source}[/bold]", highlight=False)
    console.print(
        f"rows: {summary.rows}   experts: {len(summary.experts)}   splits: "
        + ", ".join(f"{k}={v}" for k, v in summary.splits.items())
        + f"   cost signal: {summary.cost_unit or 'none'}   answers recorded: {'yes' if summary.with_answers else 'no'}",
        highlight=False,
    )
    console.print("tasks: " + ", ".join(f"{k} ({v})" for k, v in summary.tasks.items()), highlight=False, soft_wrap=True)
    if summary.missing_scores:
        console.print(f"[yellow]{summary.missing_scores} expert scores missing[/yellow]")

    views = Table(title=f"best single (chosen on {summary.best_single_chosen_on}) and oracle", title_justify="left")
    for col in ("view", "rows", "best single", "accuracy", "mean cost", "oracle", "oracle cost"):
        views.add_column(col, justify="left" if col in ("view", "best single") else "right")
    for v in summary.views:
        views.add_row(
            v.name,
            str(v.rows),
            v.best_single,
            f"{v.best_single_accuracy:.3f}",
            _fmt_cost(v.best_single_mean_cost, summary.cost_unit),
            f"{v.oracle_accuracy:.3f}",
            _fmt_cost(v.oracle_mean_cost, summary.cost_unit),
        )
    console.print(views)

    everything = summary.views[0]
    experts = Table(title="experts (all rows)", title_justify="left")
    experts.add_column("expert")
    experts.add_column("accuracy", justify="right")
    for name, acc in sorted(everything.expert_accuracy.items(), key=lambda kv: -kv[1]):
        experts.add_row(name, f"{acc:.3f}")
    console.print(experts)

    cats = Table(title="categories (all rows)", title_justify="left")
    for col in ("category", "rows", "best expert", "accuracy", "oracle"):
        cats.add_column(col, justify="right" if col in ("rows", "accuracy", "oracle") else "left")
    for c in everything.categories:
        cats.add_row(c.name, str(c.rows), c.best_expert, f"{c.best_accuracy:.3f}", f"{c.oracle_accuracy:.3f}")
    console.print(cats)


@data_app.command("convert")
@handles_errors
def convert(
    source: Path = typer.Argument(..., help="input file"),
    out: Path = typer.Argument(..., help="output routing dataset (JSONL)"),
    fmt: SourceFormat = typer.Option(..., "--from", help="input layout"),
) -> None:
    """Convert RouterBench-style wide CSV or a plain {prompt, category} file to the routing format."""
    from orchestrator.data import from_prompt_category, from_routerbench_csv, write_jsonl

    records = from_routerbench_csv(source) if fmt is SourceFormat.routerbench_csv else from_prompt_category(source)
    n = write_jsonl(records, out)
    console.print(f"wrote {n} rows to {out}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
