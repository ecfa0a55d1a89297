"""Wire a fitted router and a routing dataset into :func:`~orchestrator.escalation.replay.evaluate_escalation`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from orchestrator.escalation.cascade import CascadePlan
from orchestrator.escalation.replay import PLANS, EscalationInputs, evaluate_escalation
from orchestrator.router.selection import normalise_cost

__all__ = ["MAX_ROWS", "escalation_inputs", "escalation_report", "sampled_inputs"]

MAX_ROWS = 20_000
"""Rows of a split the escalation replay reads at most (a seeded sample beyond): the replay is a
Python loop per row and plan, ~3.5 s per 1,000 rows per tier. `train` tunes its dials on the same
sample of the training rows that `eval` chooses them on."""


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


def sampled_inputs(ds: Any, quality: np.ndarray, est_cost: np.ndarray | None, cost: np.ndarray, scale: Any,
                   logprobs: np.ndarray | None = None, *, max_rows: int = MAX_ROWS, seed: int = 0) -> tuple[EscalationInputs, str | None]:
    """:func:`escalation_inputs` on at most ``max_rows`` rows (a seeded sample beyond, with the
    note saying so): the training rows `eval` chooses its table on and `train` tunes its dials on."""
    rows = ds.sample_rows(max_rows, seed)
    if rows is None:
        return escalation_inputs(ds, quality, est_cost, cost, scale, logprobs), None
    pick = lambda a: None if a is None else a[rows]  # noqa: E731
    return (escalation_inputs(ds.subset(rows), quality[rows], pick(est_cost), cost[rows], scale, pick(logprobs)),
            f"{max_rows} of the {len(ds)} train rows")


def escalation_report(router: Any, train: Any, test: Any, test_emb: np.ndarray, train_cost: np.ndarray,
                      test_cost: np.ndarray, *, seed: int = 0, signals: tuple[str, ...] = ("agreement", "router", "posterior", "learned"),
                      logprobs: tuple[np.ndarray, np.ndarray] | None = None, plans: tuple[CascadePlan, ...] = PLANS,
                      on_plan: Callable[[], None] | None = None, max_rows: int = MAX_ROWS) -> dict | None:
    """The escalation table for a router fitted in this run on ``train`` (its held-out
    predictions tune the thresholds); None when the router has none (loaded from artifacts).
    Each split is read up to ``max_rows`` rows (a seeded sample beyond; the table notes it)."""
    oof_q, oof_c = getattr(router, "_oof_quality", None), getattr(router, "_oof_cost", None)
    if oof_q is None or list(router.experts_) != list(test.experts) or len(train) != len(oof_q):
        return None
    lp_tr, lp_te = (None, None) if logprobs is None else logprobs
    train_inputs, note = sampled_inputs(train, oof_q, oof_c, train_cost, router.cost_scale_, lp_tr, max_rows=max_rows, seed=seed)
    sampled = [] if note is None else [note]
    # The test sample is drawn before routing, so only the sampled rows are routed.
    if (rows := test.sample_rows(max_rows, seed)) is not None:
        sampled.append(f"{max_rows} of the {len(test)} test rows")
        test, test_emb, test_cost, lp_te = test.subset(rows), test_emb[rows], test_cost[rows], (None if lp_te is None else lp_te[rows])
    q_te, c_te = router.quality_and_cost(test.prompts, embeddings=test_emb)
    pick = np.array([router.experts_.index(d.chosen[0]) for d in router.route(test.prompts, embeddings=test_emb, k=1)])
    out = evaluate_escalation(
        train_inputs, escalation_inputs(test, q_te, c_te, test_cost, router.cost_scale_, lp_te),
        list(test.experts), router_pick=pick, signals=signals, seed=seed, plans=plans, on_plan=on_plan,
    )
    if sampled:
        out["notes"].append("the escalation replay reads a seeded sample of " + " and ".join(sampled))
    return out
