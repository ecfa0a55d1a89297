"""Rows of a routing file packed into ``(n_rows, n_experts)`` matrices for vectorised policies."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from orchestrator.data.records import MAX_REPORTED_PROBLEMS, CostUnit, RoutingRecord, iter_records
from orchestrator.errors import DatasetError, Problem

__all__ = ["RoutingDataset", "load_dataset"]


@dataclass
class RoutingDataset:
    """Rows of a routing file packed for vectorised routing and evaluation.

    ``scores[i, j]`` is expert ``experts[j]``'s score on row ``i`` (NaN where not recorded);
    ``costs`` is USD per call, ``output_tokens`` and ``output_chars`` are what the expert wrote
    (all NaN where unknown). ``answers[i]`` maps expert name to its extracted answer.
    """

    source: str
    ids: list[str]
    prompts: list[str]
    tasks: list[str | None]
    categories: list[str | None]
    splits: list[str | None]
    lines: list[int]
    experts: list[str]
    scores: np.ndarray
    costs: np.ndarray
    output_tokens: np.ndarray
    output_chars: np.ndarray
    answers: list[dict[str, str]] = field(repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def has_answers(self) -> bool:
        return any(self.answers)

    def expert_index(self, name: str) -> int:
        return self.experts.index(name)

    def subset(self, rows: np.ndarray | list[int] | slice) -> RoutingDataset:
        idx = np.arange(len(self))[rows]  # a mask, a slice or indices alike
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        return RoutingDataset(
            source=self.source,
            ids=pick(self.ids),
            prompts=pick(self.prompts),
            tasks=pick(self.tasks),
            categories=pick(self.categories),
            splits=pick(self.splits),
            lines=pick(self.lines),
            experts=list(self.experts),
            scores=self.scores[idx],
            costs=self.costs[idx],
            output_tokens=self.output_tokens[idx],
            output_chars=self.output_chars[idx],
            answers=pick(self.answers),
        )

    def split(self, name: str) -> RoutingDataset:
        return self.subset(np.array([s == name for s in self.splits], dtype=bool))

    def sample_rows(self, max_rows: int, seed: int = 0) -> np.ndarray | None:
        """A seeded sample of ``max_rows`` row indices, in order, for work that replays every row
        per setting (the cost-dial sweep, the escalation replay); None when every row fits."""
        if len(self) <= max_rows:
            return None
        return np.sort(np.random.default_rng(seed).choice(len(self), size=max_rows, replace=False))

    def select_experts(self, names: list[str]) -> RoutingDataset:
        cols = [self.experts.index(n) for n in names]
        return replace(
            self,
            experts=list(names),
            scores=self.scores[:, cols],
            costs=self.costs[:, cols],
            output_tokens=self.output_tokens[:, cols],
            output_chars=self.output_chars[:, cols],
            answers=[{k: v for k, v in a.items() if k in names} for a in self.answers],
        )

    def cost_matrix(self) -> tuple[np.ndarray | None, CostUnit | None]:
        """The best cost signal recorded: USD, else output tokens, else output characters."""
        for matrix, unit in ((self.costs, "usd"), (self.output_tokens, "output_tokens"), (self.output_chars, "output_chars")):
            if len(self) and not np.isnan(matrix).all():
                return np.nan_to_num(matrix, nan=float(np.nanmean(matrix))), unit  # type: ignore[return-value]
        return None, None

    def missing(self) -> list[Problem]:
        """One problem per row that lacks a score for some expert of the dataset."""
        out = []
        for i in np.flatnonzero(np.isnan(self.scores).any(axis=1)):
            absent = [self.experts[j] for j in np.flatnonzero(np.isnan(self.scores[i]))]
            out.append(
                Problem(path="experts", message=f"no score for {', '.join(absent)}", source=self.source, line=self.lines[i])
            )
        return out


def load_dataset(
    path: str | Path,
    *,
    split: str | None = None,
    experts: list[str] | None = None,
    require_complete: bool = False,
) -> RoutingDataset:
    """Load a routing file (optionally one split) into a :class:`RoutingDataset`.

    ``experts`` fixes the column order (and rejects rows naming experts outside it);
    ``require_complete`` rejects rows missing a score for any expert, with line numbers.
    """
    rows: list[tuple[int, RoutingRecord]] = list(iter_records(path, split=split))
    names = list(experts) if experts is not None else sorted({e for _, r in rows for e in r.experts})
    col = {n: j for j, n in enumerate(names)}
    n, m = len(rows), len(names)
    scores = np.full((n, m), np.nan)
    costs = np.full((n, m), np.nan)
    out_tokens = np.full((n, m), np.nan)
    out_chars = np.full((n, m), np.nan)
    answers: list[dict[str, str]] = []
    problems: list[Problem] = []
    for i, (lineno, r) in enumerate(rows):
        ans: dict[str, str] = {}
        for name, o in r.experts.items():
            j = col.get(name)
            if j is None:
                problems.append(Problem(path=f"experts.{name}", message="expert not in the expected set", source=str(path), line=lineno))
                continue
            scores[i, j] = o.score
            if o.cost_usd is not None:
                costs[i, j] = o.cost_usd
            if o.output_tokens is not None:
                out_tokens[i, j] = o.output_tokens
            if o.output_chars is not None:
                out_chars[i, j] = o.output_chars
            if o.answer is not None:
                ans[name] = o.answer
        answers.append(ans)
    ds = RoutingDataset(
        source=str(path),
        ids=[r.id for _, r in rows],
        prompts=[r.prompt for _, r in rows],
        tasks=[r.task for _, r in rows],
        categories=[r.category for _, r in rows],
        splits=[r.split for _, r in rows],
        lines=[ln for ln, _ in rows],
        experts=names,
        scores=scores,
        costs=costs,
        output_tokens=out_tokens,
        output_chars=out_chars,
        answers=answers,
    )
    if require_complete:
        problems.extend(ds.missing())
    if problems:
        raise DatasetError(problems[:MAX_REPORTED_PROBLEMS])
    return ds
