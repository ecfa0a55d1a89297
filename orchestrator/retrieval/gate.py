"""The retrieval gate: per request, answer without retrieval, with one retrieval, or with several.

Two learned parts, both scikit-learn estimators:

- :class:`QueryGate` predicts, from the query embedding alone, how likely each strategy is to
  answer correctly (one logistic regression per strategy, fit on recorded outcomes), and picks
  the strategy with the best ``P(correct) - cost_weight * retrieval_calls``. ``cost_weight`` is
  the cost dial; :func:`fit_gate` picks it (and ``C``) by cross-validation on the training rows,
  within a retrieval budget (``max_rate``: the CV retrieval rate the dial may not exceed).
- :class:`DraftGate` refines those probabilities with the uncertainty of a draft answer (the
  first expert answering without retrieval: the perplexity of its tokens). A confident draft is
  the answer and retrieval is skipped; an unsure one triggers retrieval.

The recruiter's profile enters at decision time (:func:`decide`): when the chosen experts are
weak on the query (low predicted quality), retrieval gets a boost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

__all__ = ["DIALS", "STRATEGIES", "DialChoice", "DraftGate", "GateDecision", "QueryGate", "decide", "fit_gate", "gated_accuracy", "pick_dial"]

STRATEGIES = ("no_retrieval", "single", "multi")
CALLS = (0.0, 1.0, 2.0)
"""Nominal retrieval calls per strategy (multi-step stops early on most questions)."""


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def choose(proba: np.ndarray, cost_weight: float, *, boost: np.ndarray | float = 0.0, calls: tuple[float, ...] = CALLS) -> np.ndarray:
    """Strategy index per row: argmax of ``P(correct | s) - cost_weight * calls_s`` (+ ``boost`` for retrieving)."""
    utility = np.asarray(proba, dtype=float) - cost_weight * np.asarray(calls)[None, : proba.shape[1]]
    utility[:, 1:] += np.asarray(boost, dtype=float).reshape(-1, 1)
    return utility.argmax(axis=1)


def gated_accuracy(correct: np.ndarray, chosen: np.ndarray) -> tuple[float, float]:
    """(accuracy, retrieval rate) of choosing ``chosen[i]`` for row ``i`` given recorded ``correct``."""
    if len(chosen) == 0:
        return float("nan"), float("nan")
    return float(correct[np.arange(len(chosen)), chosen].mean()), float((chosen > 0).mean())


class QueryGate(BaseEstimator):
    """P(correct | strategy, query embedding) by one logistic regression per strategy.

    Parameters
    ----------
    C : inverse regularisation of the logistic regressions.
    cost_weight : accuracy given up per retrieval call (the cost dial).
    """

    def __init__(self, C: float = 0.3, cost_weight: float = 0.0):
        self.C = C
        self.cost_weight = cost_weight

    def fit(self, X: np.ndarray, Y: np.ndarray) -> QueryGate:
        """``Y``: ``(n, n_strategies)`` 0/1, whether each strategy answered row ``i`` correctly."""
        Y = np.asarray(Y, dtype=int)
        self.n_strategies_ = Y.shape[1]
        self.models_ = []
        for j in range(Y.shape[1]):
            if len(set(Y[:, j])) < 2:  # a strategy always (never) right: a constant model
                self.models_.append(float(Y[0, j]))
            else:
                self.models_.append(LogisticRegression(C=self.C, max_iter=3000).fit(X, Y[:, j]))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        cols = [np.full(len(X), m) if isinstance(m, float) else m.predict_proba(X)[:, 1] for m in self.models_]
        return np.column_stack(cols)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return choose(self.predict_proba(X), self.cost_weight)

    def score(self, X: np.ndarray, Y: np.ndarray) -> float:
        return gated_accuracy(np.asarray(Y), self.predict(X))[0]


class DraftGate(BaseEstimator):
    """P(correct | strategy) from the query gate's probabilities and a draft's uncertainty.

    ``Z`` = ``[query gate probabilities (n, n_proba), uncertainty features (n, u)]``; one standardised
    logistic regression per strategy on the logits and the features. ``n_proba=0``: the
    uncertainty features alone.
    """

    def __init__(self, C: float = 1.0, cost_weight: float = 0.0, n_proba: int = 3):
        self.C = C
        self.cost_weight = cost_weight
        self.n_proba = n_proba

    def _design(self, Z: np.ndarray) -> np.ndarray:
        Z = np.asarray(Z, dtype=float)
        s = self.n_proba
        return np.column_stack([_logit(Z[:, :s]), Z[:, s:]]) if s else Z

    def fit(self, Z: np.ndarray, Y: np.ndarray) -> DraftGate:
        Y = np.asarray(Y, dtype=int)
        D = self._design(Z)
        self.models_ = [make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=3000)).fit(D, Y[:, j]) for j in range(Y.shape[1])]
        return self

    def predict_proba(self, Z: np.ndarray) -> np.ndarray:
        D = self._design(Z)
        return np.column_stack([m.predict_proba(D)[:, 1] for m in self.models_])

    def predict(self, Z: np.ndarray) -> np.ndarray:
        return choose(self.predict_proba(Z), self.cost_weight)


DIALS = tuple(round(0.005 * i, 3) for i in range(21)) + (0.12, 0.15, 0.2, 0.3)
"""Cost dials tried by CV: fine steps where the retrieval rate moves (0-0.1), coarse beyond."""


def pick_dial(table: list[dict[str, float]], max_rate: float | None = None) -> dict[str, float]:
    """The row of a CV ``table`` (``accuracy``, ``se``, ``retrieval_rate``, ``cost_weight``) to deploy.

    Without a budget: the largest cost weight (fewest retrievals) whose accuracy is within one
    standard error of the best. With ``max_rate``: that row if its CV retrieval rate is within the
    budget, else the most accurate row within it (ties: the lower rate); if no row is, the one
    retrieving least. ``row["within_budget"]`` says whether the budget holds on CV."""
    if not table:
        raise ValueError("empty CV table")
    best = max(table, key=lambda r: r["accuracy"])
    within = [r for r in table if r["accuracy"] >= best["accuracy"] - best["se"]]
    pick = max(within, key=lambda r: (r["cost_weight"], r["accuracy"]))
    if max_rate is not None and pick["retrieval_rate"] > max_rate:
        affordable = [r for r in table if r["retrieval_rate"] <= max_rate]
        if affordable:
            pick = max(affordable, key=lambda r: (r["accuracy"], -r["retrieval_rate"]))
        else:
            pick = min(table, key=lambda r: (r["retrieval_rate"], -r["accuracy"]))
    return {**pick, "within_budget": max_rate is None or pick["retrieval_rate"] <= max_rate}


@dataclass(frozen=True)
class DialChoice:
    """The CV table of a gate's (C, cost weight) grid and the row :func:`pick_dial` deploys."""

    C: float
    cost_weight: float
    accuracy: float
    retrieval_rate: float
    within_budget: bool
    table: list[dict[str, float]]


def cv_dial(
    estimator: BaseEstimator, X: np.ndarray, Y: np.ndarray, *, cost_weights: tuple[float, ...] = DIALS, Cs: tuple[float, ...], folds: int = 5, seed: int = 0,
    max_rate: float | None = None,
) -> DialChoice:
    """(C, cost_weight) by ``folds``-fold CV, chosen from the table by :func:`pick_dial`."""
    Y = np.asarray(Y)
    table: list[dict[str, float]] = []
    kf = KFold(folds, shuffle=True, random_state=seed)
    for C in Cs:
        proba = np.zeros(Y.shape, dtype=float)
        for a, b in kf.split(X):
            proba[b] = clone(estimator).set_params(C=C).fit(X[a], Y[a]).predict_proba(X[b])
        for w in cost_weights:
            chosen = choose(proba, w)
            hits = Y[np.arange(len(Y)), chosen]
            table.append({"C": C, "cost_weight": w, "accuracy": float(hits.mean()), "se": float(hits.std() / np.sqrt(len(hits))), "retrieval_rate": float((chosen > 0).mean())})
    pick = pick_dial(table, max_rate)
    return DialChoice(C=pick["C"], cost_weight=pick["cost_weight"], accuracy=pick["accuracy"], retrieval_rate=pick["retrieval_rate"],
                      within_budget=pick["within_budget"], table=table)


def fit_gate(X: np.ndarray, Y: np.ndarray, *, cost_weights: tuple[float, ...] = DIALS, Cs: tuple[float, ...] = (0.1, 0.3, 1.0), seed: int = 0,
             max_rate: float | None = None) -> tuple[QueryGate, DialChoice]:
    """A :class:`QueryGate` with C and the cost dial chosen by CV on (X, Y) (within the retrieval
    budget ``max_rate`` when given), refit on all of it, and the CV choice behind it."""
    dial = cv_dial(QueryGate(), X, Y, cost_weights=cost_weights, Cs=Cs, seed=seed, max_rate=max_rate)
    return QueryGate(C=dial.C, cost_weight=dial.cost_weight).fit(X, Y), dial


@dataclass
class GateDecision:
    """What the gate decided for one request (recorded in the trace)."""

    strategy: str
    p_correct: dict[str, float] = field(default_factory=dict)
    """Predicted P(correct) per strategy (the 'probability' behind the decision)."""
    signals: list[str] = field(default_factory=list)
    """Which signals were used: query, draft, recruiter."""
    draft_perplexity: float | None = None
    expert_quality: float | None = None
    reason: str = ""

    @property
    def retrieve(self) -> bool:
        return self.strategy != "no_retrieval"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"strategy": self.strategy, "p_correct": {k: round(v, 4) for k, v in self.p_correct.items()}, "signals": self.signals}
        if self.draft_perplexity is not None:
            out["draft_perplexity"] = round(self.draft_perplexity, 4)
        if self.expert_quality is not None:
            out["expert_quality"] = round(self.expert_quality, 4)
        if self.reason:
            out["reason"] = self.reason
        return out


def decide(
    query_gate: QueryGate,
    embedding: np.ndarray,
    *,
    draft_gate: DraftGate | None = None,
    draft_perplexity: float | None = None,
    expert_quality: float | None = None,
    weak_expert_boost: float = 0.0,
    allow_multi: bool = True,
) -> GateDecision:
    """One request's decision from whichever signals are at hand."""
    proba = query_gate.predict_proba(np.asarray(embedding).reshape(1, -1))
    signals = ["query"]
    cost_weight = query_gate.cost_weight
    if draft_gate is not None and draft_perplexity is not None and np.isfinite(draft_perplexity) and draft_perplexity > 0:
        proba = draft_gate.predict_proba(np.column_stack([proba, [[np.log(draft_perplexity)]]]))
        cost_weight = draft_gate.cost_weight
        signals.append("draft")
    boost = 0.0
    if expert_quality is not None and np.isfinite(expert_quality):
        # A weak expert (low predicted quality) gains more from evidence.
        boost = weak_expert_boost * max(0.0, 1.0 - float(expert_quality))
        signals.append("recruiter")
    if not allow_multi and proba.shape[1] > 2:
        proba = proba[:, :2]
    idx = int(choose(proba, cost_weight, boost=boost)[0])
    return GateDecision(
        strategy=STRATEGIES[idx],
        p_correct={s: float(p) for s, p in zip(STRATEGIES, proba[0])},
        signals=signals,
        draft_perplexity=draft_perplexity,
        expert_quality=expert_quality,
    )
