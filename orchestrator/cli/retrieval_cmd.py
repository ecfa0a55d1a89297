"""``orchestrator ingest``, ``orchestrator search`` and ``orchestrator train-gate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from orchestrator.cli._common import EXIT_INPUT_ERROR, console, err_console, handles_errors

_CONFIG_HELP = "experts.yaml whose `retrieval:` section picks the store (default: embedded, ./artifacts/retrieval)"


def _settings(config: Path | None) -> tuple[Any, Path | None]:
    from orchestrator.config import RetrievalSettings, load_config

    if config is None:
        return RetrievalSettings(), None
    cfg = load_config(config)
    return cfg.retrieval, Path(config).parent


@handles_errors
def ingest(
    paths: list[Path] = typer.Argument(..., help="files or folders (.txt .md .html .pdf; folders recursively)"),
    index: str = typer.Option(..., "--index", help="index name (letters, digits, underscores)"),
    config: Path | None = typer.Option(None, "--config", help=_CONFIG_HELP),
    delete: bool = typer.Option(False, "--delete", help="remove these documents from the index instead"),
) -> None:
    """Add documents to an index (unchanged files are skipped by content hash); bad files are reported and skipped."""
    from orchestrator.embeddings import Embedder
    from orchestrator.retrieval.index import open_index

    settings, base = _settings(config)
    idx = open_index(settings, index, Embedder(), base=base, create=True)
    report = idx.delete(paths) if delete else idx.ingest(paths)
    for path, reason in report.failed:
        err_console.print(f"skipped {path}: {reason}", soft_wrap=True)
    parts = [f"{len(getattr(report, k))} {k}" for k in ("added", "updated", "unchanged", "deleted") if getattr(report, k)]
    console.print(f"index {index}: {', '.join(parts) or 'nothing to do'}; {report.chunks} chunks written, {idx.store.count()} in the index"
                  + (f"; {len(report.failed)} skipped" if report.failed else ""), highlight=False, soft_wrap=True)
    if report.failed and not (report.added or report.updated or report.unchanged or report.deleted):
        raise typer.Exit(EXIT_INPUT_ERROR)


@handles_errors
def search(
    query: str = typer.Argument(..., help="the query text"),
    index: str = typer.Option(..., "--index", help="index name"),
    k: int = typer.Option(5, "--k", min=1, max=100, help="hits to show"),
    config: Path | None = typer.Option(None, "--config", help=_CONFIG_HELP),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object per hit"),
) -> None:
    """Print an index's best hits for a query, with cosine scores."""
    from orchestrator.embeddings import Embedder
    from orchestrator.retrieval.index import open_index

    settings, base = _settings(config)
    hits = open_index(settings, index, Embedder(), base=base).search(query, k)
    if as_json:
        for h in hits:
            print(json.dumps(h.to_dict()))
        return
    if not hits:
        console.print(f"index {index} is empty", highlight=False)
    for i, h in enumerate(hits, 1):
        console.print(f"[bold][{i}][/bold] {h.score:.3f}  {h.source} #{h.ordinal}", highlight=False)
        console.print("    " + " ".join(h.text.split())[:240], highlight=False, soft_wrap=True)


@handles_errors
def train_gate(
    data: Path = typer.Option(..., "--data", help="retrieval-outcome JSONL (e.g. ../shared/data/retrieval/adaptive_rag_llama8b.jsonl)"),
    out: Path = typer.Option(..., "--out", help="gate artifact folder (point experts.yaml retrieval.gate at it)"),
    seed: int = typer.Option(0, "--seed", help="seed of the CV folds"),
    report: Path | None = typer.Option(None, "--report", help="also replay never/always/gated/oracle on the test split and write JSON here"),
    max_rate: float = typer.Option(0.5, "--max-rate", min=0.0, max=1.0, help="retrieval budget: the dial's CV retrieval rate may not exceed it (1: no budget)"),
) -> None:
    """Fit the retrieval gate on recorded outcomes (C and the cost dial by 5-fold CV on split=train, within the retrieval budget)."""
    from orchestrator.embeddings import Embedder
    from orchestrator.retrieval.replay import load_outcomes, replay, train_gate_artifact
    from router_training.embedding_cache import cached_embeddings

    outcomes = load_outcomes(data)
    embedder = Embedder()
    with console.status(f"embedding {len(outcomes.questions)} questions"):
        emb = cached_embeddings(outcomes.questions, embedder)
    meta = train_gate_artifact(outcomes, emb, out, fingerprint=embedder.fingerprint, seed=seed, max_rate=max_rate)
    console.print(
        f"gate written to {out}: C={meta['C']:g}, cost dial {meta['cost_weight']:g}; CV on train: accuracy {meta['cv_accuracy']:.3f} "
        f"retrieving {meta['cv_retrieval_rate']:.0%} (budget {max_rate:.0%}{'' if meta['within_budget'] else ': NOT met on CV'})" + ("; draft gate fit on the rows with uncertainty scores" if "draft_gate" in meta else ""),
        highlight=False, soft_wrap=True,
    )
    if report is not None:
        with console.status("replaying gate policies on the test split"):
            result = replay(outcomes, emb, seed=seed, max_rate=max_rate)
        report.write_text(json.dumps(result, indent=2))
        overall = result["test"]["all"]
        for policy, v in overall.items():
            if isinstance(v, dict):
                console.print(f"  {policy:34s} accuracy {v['accuracy']:.3f}  retrieval rate {v['retrieval_rate']:.1%}", highlight=False)
        console.print(f"replay written to {report}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("search")(search)
    app.command("train-gate")(train_gate)
