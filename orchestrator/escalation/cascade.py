"""Which experts each tier of a cascade calls, and how the answers collected so far are merged.

Tier 1 is the router's own choice at a high cost weight (``probe_cost_weight``): the cheapest
experts it still trusts, ``probes`` of them (two or more make agreement a signal). Tier 2 adds
the router's choice at ``mid_cost_weight`` among those not called yet (a ladder: a mid-priced
expert whose agreement with tier 1 is evidence), or, when that is None, the expert the router
rates highest. Tier 3 adds the highest-rated expert not called yet, and more of the best-rated
until ``vote_size`` experts have answered, so the answers can be voted on. Answers are merged by
a vote weighted with the router's predicted P(correct); an expert with no extractable answer
(``None``) votes alone, so it never agrees with anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CascadePlan", "Tally", "plan_tiers", "tally"]


@dataclass(frozen=True)
class CascadePlan:
    probes: int = 1
    probe_cost_weight: float = 0.3
    max_tiers: int = 3
    vote_size: int = 3
    mid_cost_weight: float | None = None

    def __post_init__(self) -> None:
        if self.probes < 1 or self.max_tiers not in (1, 2, 3) or self.vote_size < 1:
            raise ValueError(f"invalid cascade plan {self}")


def plan_tiers(quality: np.ndarray, cost_norm: np.ndarray | None, plan: CascadePlan,
               allowed: np.ndarray | None = None) -> list[list[int]]:
    """Expert indices per tier for one query (``quality``/``cost_norm``: ``(m,)``, cost on the
    router's [0, 1] log scale). Tiers never repeat an expert; empty tiers are dropped."""
    m = len(quality)
    ok = np.ones(m, dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    cheap_score = quality - (0.0 if cost_norm is None else plan.probe_cost_weight * cost_norm)
    tie = np.zeros(m) if cost_norm is None else cost_norm
    by_cheap = [int(j) for j in np.lexsort((tie, -cheap_score)) if ok[j]]
    by_quality = [int(j) for j in np.lexsort((tie, -quality)) if ok[j]]
    tiers = [by_cheap[: plan.probes]]
    called = set(tiers[0])
    if plan.max_tiers >= 2:
        second = by_quality
        if plan.mid_cost_weight is not None and cost_norm is not None:
            second = [int(j) for j in np.lexsort((tie, -(quality - plan.mid_cost_weight * cost_norm))) if ok[j]]
        nxt = [j for j in second if j not in called][:1]
        tiers.append(nxt)
        called |= set(nxt)
    if plan.max_tiers >= 3:
        rest = [j for j in by_quality if j not in called]
        tiers.append(rest[: max(1, plan.vote_size - len(called))])
    return [t for t in tiers if t]


@dataclass(frozen=True)
class Tally:
    """The merged answer of the experts called so far."""

    winner: int  # expert index whose answer is returned (the best-rated one in the winning group)
    answer: str | None
    support: list[int]  # experts that gave the winning answer
    share: float  # weighted vote share of the winning answer
    agree: float  # fraction of called experts that gave the winning answer


def tally(called: Sequence[int], answers: Sequence[str | None], quality: np.ndarray) -> Tally:
    """Weighted vote over ``answers[j]`` for ``j`` in ``called`` (weights: predicted P(correct))."""
    groups: dict[object, list[int]] = {}
    for j in called:
        key = answers[j] if answers[j] is not None else ("__none__", j)
        groups.setdefault(key, []).append(j)
    weight = {key: float(sum(max(quality[j], 1e-3) for j in js)) for key, js in groups.items()}
    total = sum(weight.values())
    # Ties: the group holding the best-rated expert (the stronger model breaks ties).
    best_key = max(groups, key=lambda key: (weight[key], max(quality[j] for j in groups[key])))
    support = groups[best_key]
    winner = max(support, key=lambda j: quality[j])
    return Tally(winner=winner, answer=answers[winner], support=support, share=weight[best_key] / total if total else 0.0,
                 agree=len(support) / len(called) if answers[winner] is not None else 0.0)
