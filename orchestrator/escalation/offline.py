"""Wire a fitted router and a routing dataset into :func:`~orchestrator.escalation.replay.evaluate_escalation`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from orchestrator.escalation.cascade import CascadePlan
from orchestrator.escalation.replay import PLANS, EscalationInputs, evaluate_escalation
from orchestrator.router.selection import normalise_cost

__all__ = ["escalation_inputs", "escalation_report"]


def escalation_inputs(ds: Any, quality: np.ndarray, est_cost: np.ndarray | None, cost: np.ndarray, scale: Any,
                      logprobs: np.ndarray | None = None) -> EscalationInputs:
    unit = "tokens" if not np.isnan(ds.output_tokens).all() else "chars"
    lengths = ds.output_tokens if unit == "tokens" else ds.output_chars
    return EscalationInputs(
        scores=ds.scores, cost=cost, answers=[[a.get(e) for e in ds.experts] for a in ds.answers], quality=quality,
        cost_norm=None if est_cost is None else normalise_cost(est_cost, scale),
        lengths=None if np.isnan(lengths).all() else np.nan_to_num(lengths, nan=float(np.nanmean(lengths))),
        length_unit=None if np.isnan(lengths).all() else unit,
        logprobs=logprobs, tasks=list(ds.tasks),
    )


def escalation_report(router: Any, train: Any, test: Any, test_emb: np.ndarray, train_cost: np.ndarray,
                      test_cost: np.ndarray, *, seed: int = 0, signals: tuple[str, ...] = ("agreement", "router", "posterior", "learned"),
                      logprobs: tuple[np.ndarray, np.ndarray] | None = None, plans: tuple[CascadePlan, ...] = PLANS,
                      on_plan: Callable[[], None] | None = None) -> dict | None:
    """The escalation table for a router fitted in this run on ``train`` (its held-out
    predictions tune the thresholds); None when the router has none (loaded from artifacts)."""
    oof_q = getattr(router, "_oof_quality", None)
    if oof_q is None or list(router.experts_) != list(test.experts) or len(train) != len(oof_q):
        return None
    q_te, c_te = router.quality_and_cost(test.prompts, embeddings=test_emb)
    pick = np.array([router.experts_.index(d.chosen[0]) for d in router.route(test.prompts, embeddings=test_emb, k=1)])
    return evaluate_escalation(
        escalation_inputs(train, oof_q, router._oof_cost, train_cost, router.cost_scale_, None if logprobs is None else logprobs[0]),
        escalation_inputs(test, q_te, c_te, test_cost, router.cost_scale_, None if logprobs is None else logprobs[1]),
        list(test.experts), router_pick=pick, signals=signals, seed=seed, plans=plans, on_plan=on_plan,
    )
