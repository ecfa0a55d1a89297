"""``orchestrator eval``: replay routing policies over a recorded dataset and report what each buys."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from orchestrator.cli._common import console, err_console, fail, handles_errors


class _RichProgress:
    """Progress bars on stderr (stdout stays pure JSON with --json)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err_console, transient=False,
        )

    def __enter__(self) -> _RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    @contextlib.contextmanager
    def stage(self, label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        task = self._progress.add_task(label, total=total if total is not None else 1)
        yield lambda n=1: self._progress.advance(task, n)
        self._progress.update(task, completed=total if total is not None else 1)


def _wide() -> Console:
    """Piped output (CI logs) gets room for whole tables rather than rich's 80-column default."""
    return console if console.is_terminal else Console(width=140)


def _write_outputs(result: Any, out: Path) -> list[str]:
    from orchestrator.evaluation.plots import write_plots
    from orchestrator.evaluation.render import markdown_report

    out.mkdir(parents=True, exist_ok=True)
    plots = write_plots(result.report, out)
    (out / "report.json").write_text(result.report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(markdown_report(result.report, plots), encoding="utf-8")
    return plots


def _compare(a: Path, b: Path, as_json: bool) -> None:
    from orchestrator.evaluation.compare import compare_reports, comparison_table, load_report

    ra, rb = load_report(a), load_report(b)
    diff = compare_reports(ra, rb)
    if as_json:
        print(json.dumps(diff, indent=2))
        return
    if not diff["same_data"]:
        err_console.print("warning: the two reports are on different data; deltas mix data and policy changes", style="yellow")
    _wide().print(comparison_table(diff, rb.cost_unit or ra.cost_unit))


def _run(options: Any, out: Path, as_json: bool, embedder: Any = None) -> None:
    from orchestrator.evaluation.render import category_table, policy_table
    from orchestrator.evaluation.runner import run_evaluation

    # Libraries that print to stdout must not corrupt the --json stream.
    with contextlib.redirect_stdout(sys.stderr), _RichProgress() as progress:
        result = run_evaluation(options, progress=progress, embedder=embedder)
        try:
            plots = _write_outputs(result, out)
        except OSError as exc:
            raise fail(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    if as_json:
        print(result.report.model_dump_json(indent=2))
        return
    out_console = _wide()
    out_console.print(policy_table(result.report))
    out_console.print(category_table(result.report))
    for note in result.report.notes:
        out_console.print(f"[dim]note:[/dim] {note}", highlight=False, soft_wrap=True)
    out_console.print(f"wrote {out / 'report.json'}, {out / 'report.md'} and {', '.join(plots)}", highlight=False, soft_wrap=True)


def _default_cache_dir() -> Path | None:
    try:
        from router_training.embedding_cache import default_cache_dir
    except ImportError:
        return None
    return default_cache_dir()


def eval_command(
    data: Path | None = typer.Option(None, "--data", help="routing dataset (JSONL) with every expert's recorded outcome"),
    config: Path | None = typer.Option(None, "--config", help="experts.yaml: router settings, experts to evaluate, prices"),
    artifacts: Path | None = typer.Option(None, "--artifacts", help="trained router folder; default: fit on the train split"),
    split: str = typer.Option("test", "--split", help="the split to evaluate on"),
    out: Path | None = typer.Option(None, "--out", help="report folder (default reports/<dataset>-<split>)"),
    as_json: bool = typer.Option(False, "--json", help="print the report as one JSON object on stdout"),
    seed: int = typer.Option(0, "--seed", help="seed of the random policy and the bootstrap"),
    k: int | None = typer.Option(None, "--k", min=1, help="experts per query for every policy (default: the router's dynamic k)"),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=0, help="bootstrap resamples for 95% intervals (0 = none)"),
    embedding_cache: bool = typer.Option(True, "--embedding-cache/--no-embedding-cache", help="cache prompt embeddings on disk"),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="embedding cache folder (default: $ORCHESTRATOR_CACHE_DIR/embeddings or ~/.cache/orchestrator/embeddings)"),
    escalation: bool = typer.Option(True, "--escalation/--no-escalation", help="also replay escalation (cascade) policies over recorded answers"),
    compare: tuple[Path, Path] | None = typer.Option(None, "--compare", help="two report.json files: show what changed from A to B"),
    ray_address: str | None = typer.Option(
        None, "--ray", help="embed the prompts on Ray: 'auto' (the running cluster), host:port or ray://..., or 'local'"
    ),
) -> None:
    """Evaluate routing policies offline: accuracy, cost, cost-of-pass, APGR/CPT, gap recovered, plots."""
    if compare is not None:
        _compare(compare[0], compare[1], as_json)
        return
    if data is None:
        raise fail("--data is required (or --compare A.json B.json)")
    from orchestrator.evaluation.runner import EvalOptions

    cache = (cache_dir or _default_cache_dir()) if embedding_cache else None
    options = EvalOptions(
        data=data, config_path=config, artifacts=artifacts, split=split, seed=seed, k=k, n_boot=bootstrap, embedding_cache=cache,
        escalation=escalation,
    )
    embedder = None
    if ray_address:  # [issue 14] the embedding, which grows with rows, sharded over Ray Data actors
        from orchestrator.distributed.ray_embed import RayEmbedder
        from orchestrator.evaluation import runner

        embedder = RayEmbedder(ray_address, factory=runner._default_embedder)
        options.embed_chunk, options.embedding_cache = 1_000_000, None
    _run(options, out or Path("reports") / f"{data.stem}-{split}", as_json, embedder)


def register(app: typer.Typer) -> None:
    app.command("eval")(handles_errors(eval_command))
