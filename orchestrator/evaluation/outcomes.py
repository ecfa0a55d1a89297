"""What a policy's choices would have scored, replayed against recorded expert outcomes.

A :class:`Selection` lists, per row, the expert columns a policy calls, most preferred first.
:func:`score_selection` turns it into per-row outcomes. With several experts per row, the
recorded data cannot say what an aggregator would have written, so three honest estimates are
kept apart:

- ``first``: the answer of the most preferred chosen expert (best-by-predicted-score), what a
  sensible aggregator should at least reach: a lower bound.
- ``coverage``: some chosen expert was right, an upper bound for any aggregator.
- ``vote``: majority over the chosen experts' recorded answers (rows without recorded answers
  fall back to ``first``; ``vote_answered`` marks the rows where answers existed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from orchestrator.data import RoutingDataset

__all__ = ["RowOutcomes", "Selection", "score_selection"]


@dataclass(frozen=True)
class Selection:
    """A policy's choices on a dataset.

    ``chosen[i]`` holds expert column indices, most preferred first. ``quality`` is the policy's
    predicted quality matrix ``(n, n_experts)`` when it has one (used for the strong/weak sweep);
    ``categories`` the category the policy routed each row under, when it has categories.
    """

    chosen: list[list[int]]
    quality: np.ndarray | None = None
    categories: list[str | None] | None = None


@dataclass(frozen=True)
class RowOutcomes:
    """Per-row results of one selection; every array has one entry per row."""

    first: np.ndarray
    coverage: np.ndarray
    vote: np.ndarray
    vote_answered: np.ndarray
    cost: np.ndarray | None
    calls: np.ndarray
    chosen: list[list[int]]


def _normalise(answer: str) -> str:
    return " ".join(answer.split()).casefold()


def _vote_row(scores: np.ndarray, experts: list[str], answers: dict[str, str], cols: list[int]) -> tuple[float, bool]:
    """Majority answer among the chosen experts that recorded one; ties go to the preferred expert."""
    said = [(j, _normalise(answers[experts[j]])) for j in cols if experts[j] in answers]
    if not said:
        return float(scores[cols[0]]), False
    counts = Counter(a for _, a in said)
    top = max(counts.values())
    # The first expert in preference order whose answer has the top count decides the winner.
    winner = next(j for j, a in said if counts[a] == top)
    return float(scores[winner]), True


def score_selection(ds: RoutingDataset, selection: Selection, cost_matrix: np.ndarray | None) -> RowOutcomes:
    """Replay ``selection`` on ``ds``: the recorded score and cost of every chosen expert."""
    n, m = ds.scores.shape
    if len(selection.chosen) != n:
        raise ValueError(f"selection has {len(selection.chosen)} rows, dataset has {n}")
    kmax = max((len(c) for c in selection.chosen), default=1) or 1
    cols = np.zeros((n, kmax), dtype=int)
    mask = np.zeros((n, kmax), dtype=bool)
    for i, c in enumerate(selection.chosen):
        if not c:
            raise ValueError(f"row {i}: the policy chose no expert")
        cols[i, : len(c)] = c
        mask[i, : len(c)] = True
    rows = np.arange(n)[:, None]
    scores = np.nan_to_num(ds.scores, nan=0.0)
    picked = np.where(mask, scores[rows, cols], -np.inf)
    first = scores[np.arange(n), cols[:, 0]]
    coverage = picked.max(axis=1)
    cost = None if cost_matrix is None else np.where(mask, cost_matrix[rows, cols], 0.0).sum(axis=1)
    if ds.has_answers:
        votes = [_vote_row(scores[i], ds.experts, ds.answers[i], c) for i, c in enumerate(selection.chosen)]
        vote = np.array([v for v, _ in votes], dtype=float)
        answered = np.array([a for _, a in votes], dtype=bool)
    else:
        vote, answered = first.copy(), np.zeros(n, dtype=bool)
    return RowOutcomes(
        first=first,
        coverage=coverage,
        vote=vote,
        vote_answered=answered,
        cost=cost,
        calls=mask.sum(axis=1).astype(float),
        chosen=[list(c) for c in selection.chosen],
    )
