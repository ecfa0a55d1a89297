"""Offline batch by expert (Symbolic-MoE): invert the assignment, wake each expert once, run all its prompts.

Experts run in descending order of assigned prompts. Each expert's group holds the expert awake
(pinned in the :class:`ResidencyManager`) from its first request to its last, so within the
GPU-memory budget each expert is woken exactly once; groups that do not fit wait for an earlier
group to finish. A request that fails after retries becomes a ``Completion`` with
``finish_reason="error"`` and the error in its events, so one bad call never sinks the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from orchestrator.config import Config
from orchestrator.errors import ExpertError
from orchestrator.experts.client import ExpertClient
from orchestrator.experts.types import Completion, TraceEvent
from orchestrator.scheduling.residency import ResidencyManager

__all__ = ["run_offline_batch"]

Assignment = tuple[str, str, list[dict], dict]


def _failed(expert: str, exc: ExpertError) -> Completion:
    events = [*exc.events, TraceEvent(kind="error", expert=expert, detail=str(exc), at=0.0)]
    return Completion(expert, "", "error", 0, 0, 0.0, None, 0.0, exc.attempts or 1, events)


@contextlib.contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description:<32}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        bar.add_task("all experts", total=total)
        yield bar


async def run_offline_batch(
    config: Config,
    client: ExpertClient,
    assignments: list[Assignment],
    *,
    progress: bool = True,
    residency: ResidencyManager | None = None,
) -> dict[str, list[Completion]]:
    """Answer every ``(query_id, expert, messages, params)``; results per query in assignment order."""
    for _, expert, _, _ in assignments:
        client.expert(expert)  # fail fast on an unknown expert, before any work
    groups: dict[str, list[tuple[str, int, list[dict], dict]]] = defaultdict(list)
    results: dict[str, list[Completion | None]] = defaultdict(list)
    for qid, expert, messages, params in assignments:
        results[qid].append(None)
        groups[expert].append((qid, len(results[qid]) - 1, messages, dict(params or {})))
    order = sorted(groups, key=lambda e: -len(groups[e]))

    owned = residency is None and config.scheduler.gpu_memory_budget_gb is not None
    residency = residency or (ResidencyManager(config) if owned else None)
    if owned and residency is not None:
        await residency.start()
    try:
        with _progress(progress, len(assignments)) as bar:
            await asyncio.gather(*(_run_group(client, residency, e, groups[e], results, bar) for e in order))
    finally:
        if owned and residency is not None:
            await residency.aclose()
    return {qid: [c for c in slots if c is not None] for qid, slots in results.items()}


async def _run_group(
    client: ExpertClient,
    residency: ResidencyManager | None,
    expert: str,
    items: list[tuple[str, int, list[dict], dict]],
    results: dict[str, list[Completion | None]],
    bar: Any,
) -> None:
    task = bar.add_task(expert, total=len(items)) if bar is not None else None

    async def one(qid: str, slot: int, messages: list[dict], params: dict) -> None:
        try:
            results[qid][slot] = await client.complete(expert, messages, params)
        except ExpertError as exc:
            results[qid][slot] = _failed(expert, exc)
        if bar is not None:
            bar.advance(task)
            bar.advance(0)

    gate = residency.use(expert) if residency is not None else contextlib.nullcontext()
    try:
        async with gate:  # woken once, held awake until its last prompt is answered
            await asyncio.gather(*(one(*item) for item in items))
    except ExpertError as exc:  # the expert could not be woken: its prompts fail, the batch goes on
        for qid, slot, _, _ in items:
            if results[qid][slot] is None:
                results[qid][slot] = _failed(expert, exc)
                if bar is not None:
                    bar.advance(task)
                    bar.advance(0)
