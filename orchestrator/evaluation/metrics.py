"""Metric functions of offline routing evaluation: pure numpy, no I/O, hand-checkable.

- cost-of-pass (Erol et al., arXiv 2504.13359): mean cost per query / accuracy; inf if never right.
- gap recovered (LLMRouterBench): how much of the best-single-to-oracle gap a policy closes.
- PGR, APGR and CPT (RouteLLM, arXiv 2406.18665): for a strong/weak pair, sweep the threshold
  on a policy's preference for the strong model; PGR = (acc - weak) / (strong - weak);
  APGR = area under PGR against the fraction of calls to the strong model; CPT(x) = the
  smallest fraction of strong calls that reaches PGR x.
- cost-quality AUC (RouterBench, arXiv 2403.12031): area under the non-decreasing upper convex
  hull of (cost, accuracy) points, normalised by the cost range.
- paired, seeded percentile bootstrap confidence intervals.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = [
    "StrongWeakCurve",
    "bootstrap_means",
    "cost_of_pass",
    "cost_quality_auc",
    "gap_recovered",
    "percentile_ci",
    "strong_weak_curve",
    "upper_hull",
]


def cost_of_pass(mean_cost: float | None, accuracy: float) -> float | None:
    """Expected cost of one correct answer; ``inf`` when the policy is never right, None without costs."""
    if mean_cost is None:
        return None
    if accuracy <= 0:
        return math.inf
    return mean_cost / accuracy


def gap_recovered(accuracy: float, best_single: float, oracle: float) -> float | None:
    """``(acc - best_single) / (oracle - best_single)``; None when the oracle has no headroom."""
    gap = oracle - best_single
    if gap <= 1e-12:
        return None
    return (accuracy - best_single) / gap


@dataclass(frozen=True)
class StrongWeakCurve:
    """Accuracy and PGR as a function of the fraction of queries sent to the strong model."""

    strong_fraction: np.ndarray  # x in [0, 1], increasing
    accuracy: np.ndarray
    pgr: np.ndarray
    weak_accuracy: float
    strong_accuracy: float

    @property
    def apgr(self) -> float:
        return float(np.trapezoid(self.pgr, self.strong_fraction))

    def cpt(self, target_pgr: float) -> float | None:
        """Smallest strong-call fraction whose PGR reaches ``target_pgr`` (linear between points)."""
        x, y = self.strong_fraction, self.pgr
        hit = np.flatnonzero(y >= target_pgr - 1e-12)
        if not len(hit):
            return None
        i = int(hit[0])
        if i == 0 or y[i] == y[i - 1]:
            return float(x[i])
        t = (target_pgr - y[i - 1]) / (y[i] - y[i - 1])
        return float(x[i - 1] + t * (x[i] - x[i - 1]))


def strong_weak_curve(preference: np.ndarray, strong_scores: np.ndarray, weak_scores: np.ndarray) -> StrongWeakCurve | None:
    """Exact threshold sweep: the rows the policy prefers most go to the strong model first.

    Rows with equal ``preference`` move together (a threshold cannot split them), so the curve
    has a point at every distinct preference value and is linear in between, which is also the
    expectation under random tie-breaking. None when strong and weak are equally accurate
    (PGR is undefined).
    """
    n = len(preference)
    weak_acc, strong_acc = float(np.mean(weak_scores)), float(np.mean(strong_scores))
    if n == 0 or abs(strong_acc - weak_acc) <= 1e-12:
        return None
    order = np.argsort(-np.asarray(preference, dtype=float), kind="stable")
    pref = np.asarray(preference, dtype=float)[order]
    gain = (np.asarray(strong_scores, dtype=float) - np.asarray(weak_scores, dtype=float))[order]
    # Boundaries between tie groups: after the last row of each group of equal preference.
    ends = np.flatnonzero(np.r_[pref[1:] != pref[:-1], True]) + 1
    counts = np.r_[0, ends]
    acc = weak_acc + np.r_[0.0, np.cumsum(gain)][counts] / n
    pgr = (acc - weak_acc) / (strong_acc - weak_acc)
    return StrongWeakCurve(counts / n, acc, pgr, weak_acc, strong_acc)


def upper_hull(costs: np.ndarray, accuracies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The non-decreasing upper convex hull of (cost, accuracy) points, sorted by cost.

    Every point on it is reachable by mixing two policies at random, and no rational user pays
    more for less, hence both "upper" and "non-decreasing" (RouterBench's construction).
    """
    pts = sorted(zip(np.asarray(costs, float), np.asarray(accuracies, float), strict=True), key=lambda p: (p[0], -p[1]))
    hull: list[tuple[float, float]] = []
    for c, a in pts:
        if hull and a <= hull[-1][1]:
            continue  # dominated: costs at least as much for no more accuracy
        while len(hull) >= 2:
            (c1, a1), (c2, a2) = hull[-2], hull[-1]
            # Drop the middle point when it lies on or under the chord from c1 to c.
            if (a2 - a1) * (c - c1) <= (a - a1) * (c2 - c1):
                hull.pop()
            else:
                break
        hull.append((c, a))
    xs, ys = zip(*hull, strict=True) if hull else ((), ())
    return np.array(xs, dtype=float), np.array(ys, dtype=float)


def cost_quality_auc(costs: np.ndarray, accuracies: np.ndarray, lo: float, hi: float) -> float | None:
    """Normalised area under the upper hull over the cost range ``[lo, hi]``.

    The hull is flat beyond its most expensive point (one can always spend less) and zero below
    its cheapest one (nothing is achievable for less); callers add the single experts' points so
    every policy is credited with what mixing plain experts already reaches.
    """
    if hi <= lo or not len(costs):
        return None
    hx, hy = upper_hull(costs, accuracies)
    # hx[0] is a grid point whenever it lies in range, so no segment straddles the step there.
    grid = np.unique(np.clip(np.r_[lo, hi, hx], lo, hi))
    a, b = grid[:-1], grid[1:]
    live = a >= hx[0]
    area = np.sum(((b - a) * (np.interp(a, hx, hy) + np.interp(b, hx, hy)) / 2)[live])
    return float(area / (hi - lo))


def _draw_counts(rng: np.random.Generator, n: int, draws: int) -> np.ndarray:
    return rng.multinomial(n, np.full(n, 1.0 / n), size=draws)


def bootstrap_means(values: np.ndarray, *, n_boot: int = 1000, seed: int = 0, chunk: int | None = None) -> np.ndarray:
    """Bootstrap distribution of column means of ``values`` (n_rows, n_cols): ``(n_boot, n_cols)``.

    All columns share the same resamples (a paired bootstrap), so differences between columns
    get honest intervals. Draws are made in chunks so 100k rows stay within a few MB.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    n = values.shape[0]
    if n == 0:
        return np.full((n_boot, values.shape[1]), np.nan)
    rng = np.random.default_rng(seed)
    chunk = chunk or max(1, min(n_boot, 2_000_000 // n))
    out = np.empty((n_boot, values.shape[1]))
    for start in _chunks(n_boot, chunk):
        size = min(chunk, n_boot - start)
        out[start : start + size] = _draw_counts(rng, n, size) @ values / n
    return out


def _chunks(total: int, size: int) -> Iterator[int]:
    yield from range(0, total, size)


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of a bootstrap sample."""
    lo, hi = np.nanpercentile(samples, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)
