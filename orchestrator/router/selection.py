"""Turning per-expert scores into the experts to call: the cost dial, budgets, dynamic k, sampling.

Everything here is vectorised over a batch: ``scores`` is ``(n, m)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CostScale", "cost_adjusted", "dynamic_k", "greedy_cover", "mass_distribution", "normalise_cost", "sample_experts", "top_k"]


@dataclass(frozen=True)
class CostScale:
    """Cost on a log scale: 0 at the cheapest expert's mean cost, 1 at the dearest's.

    ``log1p(c / lo) / log1p(hi / lo)``: a 10x price step weighs the same among cheap experts as
    among dear ones, and the scale does not care about the unit (USD spanning 100x, output
    characters spanning 3x), so one cost weight means about the same on every file. ``log1p``
    keeps free experts (cost 0) finite. The map is increasing, so the dial stays monotone.
    """

    lo: float
    hi: float

    @classmethod
    def fit(cls, expert_cost: np.ndarray) -> CostScale:
        c = np.asarray(expert_cost, dtype=float)
        positive = c[c > 0]
        lo = float(positive.min()) if positive.size else 1.0
        return cls(lo=lo, hi=max(float(c.max()), lo))

    def __call__(self, cost: np.ndarray) -> np.ndarray:
        span = np.log1p(self.hi / self.lo)
        return np.log1p(np.maximum(cost, 0.0) / self.lo) / (span if span > 0 else 1.0)


def cost_adjusted(quality: np.ndarray, cost: np.ndarray | None, cost_weight: float, cost_scale: CostScale | float) -> np.ndarray:
    """``quality - cost_weight * normalised cost``: the dial trades quality against cost.

    ``cost_scale`` is a :class:`CostScale` (log scale) or, for artifacts trained before it, a
    plain divisor. Per row the trade-off is linear in an increasing function of cost, so raising
    ``cost_weight`` can only move the argmax (and any fixed-size top-k set) to cheaper experts:
    mean cost never rises.
    """
    if cost is None or cost_weight == 0.0:
        return quality.copy()
    return quality - cost_weight * normalise_cost(cost, cost_scale)


def normalise_cost(cost: np.ndarray, cost_scale: CostScale | float) -> np.ndarray:
    if isinstance(cost_scale, CostScale):
        return cost_scale(cost)
    return cost / max(float(cost_scale), 1e-12)


def mass_distribution(scores: np.ndarray, temperature: float) -> np.ndarray:
    """A distribution over experts from scores: softmax at ``temperature`` (``-inf`` = excluded)."""
    z = scores / max(temperature, 1e-6)
    z = z - np.max(np.where(np.isfinite(z), z, -np.inf), axis=1, keepdims=True)
    e = np.where(np.isfinite(z), np.exp(z), 0.0)
    return e / np.maximum(e.sum(axis=1, keepdims=True), 1e-300)


def dynamic_k(probs: np.ndarray, top_p: float, k_min: int, k_max: int) -> np.ndarray:
    """Per row, the smallest k whose sorted cumulative probability reaches ``top_p``, in [k_min, k_max].

    "Harder Tasks Need More Experts" (arXiv 2403.07652), moved from tokens to models: a confident
    router calls one expert, an unsure one calls more.
    """
    m = probs.shape[1]
    sorted_p = -np.sort(-probs, axis=1)
    cum = np.cumsum(sorted_p, axis=1)
    # 1-based index of the first prefix reaching top_p (a tiny tolerance absorbs float error).
    k = np.argmax(cum >= top_p - 1e-9, axis=1) + 1
    k = np.where(cum[:, -1] >= top_p - 1e-9, k, m)
    available = np.isfinite(probs).sum(axis=1) if probs.size else np.zeros(0, dtype=int)
    hi = np.minimum(k_max, np.maximum(available, 1))
    return np.clip(k, min(k_min, m), hi).astype(int)


def top_k(scores: np.ndarray, k: np.ndarray, tiebreak: np.ndarray | None = None) -> list[list[int]]:
    """Per row, the indices of the ``k[i]`` best scores, best first; ties go to lower ``tiebreak``
    (expected cost), then to the lower index."""
    n, m = scores.shape
    tb = np.zeros((n, m)) if tiebreak is None else tiebreak
    out = []
    for i in range(n):
        order = np.lexsort((np.arange(m), tb[i], -scores[i]))
        keep = [j for j in order if np.isfinite(scores[i, j])]
        out.append([int(j) for j in keep[: int(k[i])]])
    return out


def sample_experts(probs: np.ndarray, k: np.ndarray, rng: np.random.Generator) -> list[list[int]]:
    """Symbolic-MoE's recruitment: ``k`` draws with replacement in proportion to ``probs``
    (a duplicate means the expert answers twice, at temperature)."""
    out = []
    for i in range(probs.shape[0]):
        p = np.nan_to_num(probs[i], nan=0.0, posinf=0.0)
        if p.sum() <= 0:
            p = np.ones_like(p)
        draws = rng.choice(len(p), size=int(k[i]), replace=True, p=p / p.sum())
        # Best first: order the draws by probability, keeping duplicates.
        out.append([int(j) for j in sorted(draws, key=lambda j: (-p[j], j))])
    return out


def greedy_cover(
    local_fail: np.ndarray,
    global_fail: np.ndarray,
    k: np.ndarray,
    *,
    alpha: float,
    allowed: np.ndarray | None = None,
    penalty: np.ndarray | None = None,
) -> list[list[int]]:
    """Per row, k *complementary* experts: greedily add the expert that most lowers the estimated
    probability that every chosen expert fails, plus ``penalty`` (the cost term).

    That probability is ``alpha`` x the share of the query's training neighbours on which all
    chosen experts failed (``local_fail``: ``(n, n_neighbours, m)``, 1 = failed) plus
    ``1 - alpha`` x the same share over all training rows (``global_fail``: ``(N, m)``): local
    estimates from a few dozen neighbours are noisy, the global one is the best fixed set's
    statistic. ``alpha = 0`` picks (greedily) the best fixed set for every query. Top-k by
    individual score picks correlated experts that fail together; an aggregator needs one
    right answer among its inputs.
    """
    n, _, m = local_fail.shape
    ok = np.ones((n, m), dtype=bool) if allowed is None else allowed
    pen = np.zeros((n, m)) if penalty is None else penalty
    global_cache: dict[tuple[int, ...], np.ndarray] = {}

    def global_share(chosen: tuple[int, ...]) -> np.ndarray:
        # Depends only on the chosen prefix, which repeats across queries: compute it once.
        if chosen not in global_cache:
            alive = global_fail[:, list(chosen)].prod(axis=1) if chosen else np.ones(len(global_fail))
            global_cache[chosen] = alive @ global_fail / max(len(global_fail), 1)
        return global_cache[chosen]

    out = []
    for i in range(n):
        chosen: tuple[int, ...] = ()
        alive = np.ones(local_fail.shape[1])
        while len(chosen) < min(int(k[i]), int(ok[i].sum())):
            risk = (1 - alpha) * global_share(chosen) + alpha * (alive @ local_fail[i]) / max(len(alive), 1)
            risk = np.where(ok[i], risk + pen[i], np.inf)
            risk[list(chosen)] = np.inf
            j = int(np.argmin(risk))
            chosen += (j,)
            alive = alive * local_fail[i, :, j]
        out.append(list(chosen))
    return out
