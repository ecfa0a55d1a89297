"""Turning per-expert scores into the experts to call: the cost dial, budgets, dynamic k, sampling.

Everything here is vectorised over a batch: ``scores`` is ``(n, m)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cost_adjusted", "dynamic_k", "mass_distribution", "sample_experts", "top_k"]


def cost_adjusted(quality: np.ndarray, cost: np.ndarray | None, cost_weight: float, cost_scale: float) -> np.ndarray:
    """``quality - cost_weight * cost / cost_scale``: the dial trades quality against normalised cost.

    Per row this is a linear trade-off, so raising ``cost_weight`` can only move the argmax
    (and any fixed-size top-k set) to cheaper experts: mean cost never rises.
    """
    if cost is None or cost_weight == 0.0:
        return quality.copy()
    return quality - cost_weight * cost / max(cost_scale, 1e-12)


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


def greedy_cover(score: np.ndarray, neighbour_scores: np.ndarray, k: np.ndarray, penalty: np.ndarray | None = None) -> list[list[int]]:
    """Per row, k *complementary* experts: the best-scoring one first, then each next expert the
    one that most raises the share of similar training queries on which at least one chosen
    expert was right (``neighbour_scores``: ``(n, n_neighbours, m)``), net of ``penalty``
    (the cost term). Top-k by individual score picks correlated experts that fail together;
    an aggregator needs one right answer among its inputs."""
    n, _, m = neighbour_scores.shape
    pen = np.zeros((n, m)) if penalty is None else penalty
    out = []
    for i in range(n):
        allowed = np.isfinite(score[i])
        first = int(np.argmax(np.where(allowed, score[i], -np.inf)))
        chosen = [first]
        covered = neighbour_scores[i, :, first].copy()
        while len(chosen) < min(int(k[i]), int(allowed.sum())):
            gain = np.maximum(covered[:, None], neighbour_scores[i]).mean(axis=0) - covered.mean() - pen[i]
            gain = np.where(allowed, gain + 1e-6 * score[i], -np.inf)
            gain[chosen] = -np.inf
            j = int(np.argmax(gain))
            chosen.append(j)
            covered = np.maximum(covered, neighbour_scores[i, :, j])
        out.append(chosen)
    return out
