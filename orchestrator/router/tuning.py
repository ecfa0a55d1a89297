"""Choices the router makes from cross-validated (out-of-fold) results on its training rows:
the default cost weight (the one-standard-error rule) and the coverage selector's mix of local
and global failure statistics. Nothing from a test split is ever looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestrator.router.selection import greedy_cover

__all__ = ["CoverChoice", "choose_cover", "fold_mean_and_se", "free_accuracy", "one_standard_error"]

FREE_TOLERANCE = 0.002  # absolute CV accuracy treated as "no loss" (at most a quarter of a standard error)

COVER_ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
COVER_NEIGHBOURS = (20, 40, 80)
COVER_K = 3


def fold_mean_and_se(values: np.ndarray, folds: np.ndarray) -> tuple[float, float]:
    """Mean of per-row outcomes and the standard error of the mean of the per-fold means
    (``std(fold means) / sqrt(K)``, Hastie, Tibshirani & Friedman, ESL 7.10)."""
    ids = np.unique(folds)
    per_fold = np.array([values[folds == f].mean() for f in ids])
    se = float(per_fold.std(ddof=1) / np.sqrt(len(ids))) if len(ids) > 1 else 0.0
    return float(values.mean()), se


def free_accuracy(accuracy: np.ndarray, se: np.ndarray, cost: np.ndarray, floor: float = -np.inf) -> int:
    """Index of the cheapest setting that gives up no first-choice accuracy CV can see.

    The one-standard-error rule trades up to a standard error of accuracy (0.5-1 point on these
    files) for cost; a default must not. Here a setting qualifies only when its CV accuracy is
    within ``min(FREE_TOLERANCE, se/4)`` of the best's, so the default keeps the accuracy and
    takes only the savings that are free. ``floor``: nor may it fall below this accuracy (the
    router's simple policies on the same folds) unless even the best setting is below it.
    """
    accuracy, se, cost = map(np.asarray, (accuracy, se, cost))
    best = int(np.argmax(accuracy))
    tol = min(FREE_TOLERANCE, float(se[best]) / 4)
    bar = max(accuracy[best] - tol, min(floor, accuracy[best]))
    ok = np.flatnonzero(accuracy >= bar - 1e-12)
    return int(ok[np.argmin(cost[ok])])


def one_standard_error(accuracy: np.ndarray, se: np.ndarray, cost: np.ndarray) -> int:
    """Index of the cheapest setting whose CV accuracy is within one standard error of the best.

    The best setting's accuracy is itself an estimate with error ``se[best]``; any setting inside
    that band is statistically as good, so take the one that saves the most cost (ties: the
    earlier, i.e. the smaller cost weight).
    """
    accuracy, se, cost = map(np.asarray, (accuracy, se, cost))
    best = int(np.argmax(accuracy))
    ok = np.flatnonzero(accuracy >= accuracy[best] - se[best] - 1e-12)
    return int(ok[np.argmin(cost[ok])])


@dataclass(frozen=True)
class CoverChoice:
    alpha: float = 0.5
    n_neighbors: int = 40
    cv_coverage: float = float("nan")


def choose_cover(
    truth: np.ndarray, neighbours: np.ndarray, folds: np.ndarray, *,
    alphas: tuple[float, ...] = COVER_ALPHAS, n_neighbors: tuple[int, ...] = COVER_NEIGHBOURS, k: int = COVER_K,
) -> CoverChoice:
    """The (alpha, neighbour count) of :func:`greedy_cover` with the best out-of-fold k-coverage.

    ``neighbours``: ``(n, >= max(n_neighbors))`` nearest training rows of each row *from the
    other folds*; the global statistic of each row likewise comes from the other folds only.
    Ties go to the smaller alpha (the steadier global statistic), then fewer neighbours.
    """
    m = truth.shape[1]
    if m <= k:
        return CoverChoice()
    fail = 1.0 - np.clip(truth, 0.0, 1.0)
    best: CoverChoice | None = None
    for alpha in alphas:
        for nn in n_neighbors if alpha > 0 else n_neighbors[:1]:
            covered = np.empty(len(truth))
            for f in np.unique(folds):
                rows = np.flatnonzero(folds == f)
                picks = greedy_cover(fail[neighbours[rows, :nn]], fail[folds != f], np.full(len(rows), k), alpha=alpha)
                covered[rows] = [truth[i, p].max() for i, p in zip(rows, picks, strict=True)]
            cov = float(covered.mean())
            if best is None or cov > best.cv_coverage + 1e-12:
                best = CoverChoice(alpha=alpha, n_neighbors=nn, cv_coverage=cov)
    assert best is not None
    return best
