"""Which experts each tier of a cascade calls, and how the answers collected so far are merged.

Tier 1 is the router's own choice at a high cost weight (``probe_cost_weight``): the cheapest
experts it still trusts, ``probes`` of them (two or more make agreement a signal). Tier 2 adds
the router's choice at ``mid_cost_weight`` among those not called yet (a ladder: a mid-priced
expert whose agreement with tier 1 is evidence), or, when that is None, the expert the router
rates highest. Tier 3 adds the highest-rated expert not called yet, and more of the best-rated
until ``vote_size`` experts have answered, so the answers can be voted on. Answers are merged by
a vote weighted with the router's predicted P(correct) (``merge="vote"``), or the best-rated
expert called so far answers and the others only lend their agreement (``merge="strongest"``:
an escalation trusts the stronger expert instead of letting two agreeing cheap experts outvote
it); an expert with no extractable answer (``None``) votes alone, so it never agrees with anyone.

Beside the vote, :func:`answer_posterior` gives each candidate answer a posterior: every expert
is a noisy voter whose reliability is the router's P(correct) for this query, so agreement of
two experts the router trusts counts for more than agreement of two it does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ANSWER_OPTIONS", "MERGES", "CascadePlan", "Tally", "answer_posterior", "plan_tiers", "tally"]

MERGES = ("vote", "strongest")
ANSWER_OPTIONS = 10  # answers a voter could give when wrong + 1 (MMLU-Pro's ten letters); a prior, calibrated after


@dataclass(frozen=True)
class CascadePlan:
    probes: int = 1
    probe_cost_weight: float = 0.3
    max_tiers: int = 3
    vote_size: int = 3
    mid_cost_weight: float | None = None
    merge: str = "vote"

    def __post_init__(self) -> None:
        if self.probes < 1 or self.max_tiers not in (1, 2, 3) or self.vote_size < 1 or self.merge not in MERGES:
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
    posterior: float = 0.0  # answer_posterior of the winning answer (0 when it has none)


def answer_posterior(called: Sequence[int], answers: Sequence[str | None], quality: np.ndarray,
                     options: int = ANSWER_OPTIONS) -> dict[str, float]:
    """P(answer is right) per candidate answer: each called expert votes with log-odds
    ``log((options - 1) * r / (1 - r))``, ``r`` its predicted P(correct) (a right expert gives the
    answer, a wrong one any of ``options - 1`` others); answers nobody gave share the rest.
    Experts' errors are correlated, so this is over-confident; the learned signal calibrates it."""
    score: dict[str, float] = {}
    for j in called:
        if answers[j] is not None:
            r = float(np.clip(quality[j], 0.02, 0.98))
            score[answers[j]] = score.get(answers[j], 0.0) + float(np.log((options - 1) * r / (1 - r)))
    if not score:
        return {}
    top = max(score.values())
    mass = {a: float(np.exp(v - top)) for a, v in score.items()}
    total = sum(mass.values()) + max(options - len(score), 0) * float(np.exp(-top))
    return {a: v / total for a, v in mass.items()}


def tally(called: Sequence[int], answers: Sequence[str | None], quality: np.ndarray, merge: str = "vote") -> Tally:
    """Merge ``answers[j]`` for ``j`` in ``called``: a vote weighted with predicted P(correct), or
    (``merge="strongest"``) the answer of the best-rated expert that gave one."""
    groups: dict[object, list[int]] = {}
    for j in called:
        key = answers[j] if answers[j] is not None else ("__none__", j)
        groups.setdefault(key, []).append(j)
    weight = {key: float(sum(max(quality[j], 1e-3) for j in js)) for key, js in groups.items()}
    total = sum(weight.values())
    with_answer = [j for j in called if answers[j] is not None]
    if merge == "strongest" and with_answer:
        best_key: object = answers[max(with_answer, key=lambda j: quality[j])]
    else:
        # Ties: the group holding the best-rated expert (the stronger model breaks ties).
        best_key = max(groups, key=lambda key: (weight[key], max(quality[j] for j in groups[key])))
    support = groups[best_key]
    winner = max(support, key=lambda j: quality[j])
    answer = answers[winner]
    return Tally(winner=winner, answer=answer, support=support, share=weight[best_key] / total if total else 0.0,
                 agree=len(support) / len(called) if answer is not None else 0.0,
                 posterior=answer_posterior(called, answers, quality).get(answer, 0.0) if answer is not None else 0.0)
