"""``orchestrator batch``: answer a JSONL file of queries offline, grouped by expert (Symbolic-MoE)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import typer

from orchestrator.cli._common import console, handles_errors
from orchestrator.errors import DatasetError, Problem


def _read_queries(path: Path, default_experts: list[str]) -> list[tuple[str, str, list[dict], dict]]:
    """Lines ``{"id", "prompt" | "messages", "experts"?: [names], "params"?: {...}}`` -> assignments."""
    assignments: list[tuple[str, str, list[dict], dict]] = []
    problems: list[Problem] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(Problem(path="", message=f"cannot read: {exc}", source=str(path))) from exc
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(path="", message=f"not JSON: {exc.msg}", source=str(path), line=lineno))
            continue
        if not isinstance(row, dict) or not ("prompt" in row or "messages" in row):
            problems.append(Problem(path="", message="needs 'prompt' or 'messages'", source=str(path), line=lineno))
            continue
        messages = row.get("messages") or [{"role": "user", "content": str(row["prompt"])}]
        experts = row.get("experts") or default_experts
        if isinstance(experts, dict):  # a routing-dataset row: its expert outcomes, not an assignment
            experts = default_experts
        if not experts:
            problems.append(Problem(path="experts", message="no experts: list them in the row or pass --experts", source=str(path), line=lineno))
            continue
        for expert in experts:
            assignments.append((str(row.get("id", lineno)), expert, messages, dict(row.get("params") or {})))
    if problems:
        raise DatasetError(problems[:50])
    return assignments


@handles_errors
def batch(
    queries: Path = typer.Argument(..., help="JSONL: one {id, prompt|messages, experts?, params?} per line"),
    config_path: Path = typer.Option(Path("experts.yaml"), "--config", "-c", help="composition file"),
    out: Path = typer.Option(Path("batch_results.jsonl"), "--out", "-o", help="one line per (query, expert) answer"),
    experts: str = typer.Option("", "--experts", help="comma-separated experts for rows that name none"),
    max_tokens: int = typer.Option(512, "--max-tokens", help="default max_tokens when a row sets none"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    ray_address: str | None = typer.Option(
        None, "--ray", help="run on Ray: 'auto' (the running cluster), host:port or ray://..., or 'local' (start one here)"
    ),
) -> None:
    """Run every query on its experts, waking each expert once (within the GPU-memory budget)."""
    from orchestrator.config import load_config
    from orchestrator.experts import ExpertClient
    from orchestrator.scheduling import run_offline_batch

    config = load_config(config_path)
    names = [e.strip() for e in experts.split(",") if e.strip()]
    assignments = [(q, e, m, {"max_tokens": max_tokens, **p}) for q, e, m, p in _read_queries(queries, names)]

    async def run() -> dict:
        async with ExpertClient(config) as client:
            return await run_offline_batch(config, client, assignments, progress=progress)

    if ray_address:  # [issue 14] shards on Ray Data, each grouped by expert; same records as below
        from orchestrator.distributed.ray_batch import run_batch_on_ray

        results = run_batch_on_ray(config, config_path.read_text(encoding="utf-8"), assignments, address=ray_address)
    else:
        results = asyncio.run(run())
    failed = 0
    with out.open("w", encoding="utf-8") as f:
        for qid, completions in results.items():
            for c in completions:
                failed += not c.ok
                record = {
                    "id": qid, "expert": c.expert, "text": c.text, "finish_reason": c.finish_reason,
                    "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
                    "cost_usd": c.cost_usd, "latency_s": round(c.latency_s, 4), "attempts": c.attempts,
                }  # fmt: skip
                if not c.ok:
                    record["error"] = c.events[-1].detail if c.events else "failed"
                f.write(json.dumps(record) + "\n")
    console.print(f"{len(assignments)} answers ({failed} failed) -> {out}", highlight=False)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)
