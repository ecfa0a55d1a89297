"""Confidence signals that decide whether a cascade accepts the answer it has or escalates.

- ``agreement``: the fraction of the called experts whose extracted answers agree with the
  merged answer (needs two or more experts; a missing answer agrees with nobody);
- ``router``: the router's predicted P(correct) of the expert whose answer is returned;
- ``logprob``: exp(mean token log-probability) of that expert's answer (vLLM's ``logprobs``);
- ``posterior``: the merged answer's posterior when every called expert is a voter as reliable as
  the router predicts for this query (:func:`~orchestrator.escalation.cascade.answer_posterior`);
- ``learned``: a logistic regression over all of the above plus answer length, a missing-answer
  flag and the router's predicted gain from escalating, fitted on held-out training rows per
  tier, so its output is a calibrated P(correct). ``orchestrator train`` stores the fitted
  models (:class:`TierModels`) with the tuned dial; the gateway computes the same feature row
  (:func:`tally_features`) from live answers.

Each signal maps to a number in [0, 1]; a policy accepts when it is ``>= threshold``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrator.escalation.cascade import Tally

__all__ = ["FEATURES", "SIGNALS", "LearnedConfidence", "TierModels", "confidence_features", "signal_value", "tally_features"]

SIGNALS = ("agreement", "router", "logprob", "posterior", "learned")
FEATURES = ("agree", "share", "router_p", "missing", "log_length", "logprob_p", "n_called", "gap", "posterior")


def confidence_features(*, agree: float, share: float, router_p: float, missing: bool, length: float | None,
                        logprob: float | None, n_called: int, gap: float = 0.0, posterior: float = 0.0) -> np.ndarray:
    """One feature row (see ``FEATURES``); unknown length/logprob become neutral values.
    ``gap``: how much better the router rates the best expert not called yet (what escalating
    could gain)."""
    return np.array([
        agree, share, router_p, float(missing),
        0.0 if length is None or not np.isfinite(length) else float(np.log1p(max(length, 0.0))),
        0.5 if logprob is None or not np.isfinite(logprob) else float(np.exp(min(logprob, 0.0))),
        float(n_called),
        float(gap),
        float(posterior),
    ])


def tally_features(tl: Tally, called: Sequence[int], quality: np.ndarray, *,
                   lengths: Mapping[int, float] | np.ndarray | None, logprob: float | None) -> np.ndarray:
    """The feature row after a tier, the same offline (replayed answers) and online (live ones):
    ``called`` are the experts asked so far, ``quality`` the router's P(correct) per expert,
    ``lengths`` each answer's output length (indexable by expert), ``logprob`` the answering
    expert's mean token log-probability (None when unknown)."""
    q = float(quality[tl.winner])
    asked = set(called)
    rest = [float(quality[j]) for j in range(len(quality)) if j not in asked]
    support = [] if lengths is None else [float(lengths[j]) for j in tl.support if lengths[j] is not None]
    return confidence_features(
        agree=tl.agree, share=tl.share, router_p=q, missing=tl.answer is None,
        length=float(np.mean(support)) if support else None, logprob=logprob, n_called=len(called),
        gap=max(rest or [q]) - q, posterior=tl.posterior,
    )


def signal_value(name: str, features: np.ndarray) -> np.ndarray:
    """The raw (unlearned) signal from feature rows ``(n, len(FEATURES))``."""
    col = {"agreement": "agree", "router": "router_p", "logprob": "logprob_p", "posterior": "posterior"}[name]
    return features[:, FEATURES.index(col)]


class LearnedConfidence:
    """P(the merged answer is right) from the feature rows: an L2 logistic regression on
    standardised features (scikit-learn estimator API), fitted by Newton's method — a handful of
    features, so a few 8x8 solves beat a general solver by 100x (thresholds are tuned over
    hundreds of such fits). ``C``: inverse regularisation, as in scikit-learn."""

    def __init__(self, *, C: float = 1.0, max_iter: int = 30):
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: np.ndarray) -> LearnedConfidence:
        X = np.asarray(X, dtype=float)
        y = (np.asarray(y, dtype=float) >= 0.5).astype(float)
        self.mean_ = X.mean(axis=0) if len(X) else np.zeros(X.shape[1])
        self.std_ = np.where(X.std(axis=0) > 1e-12, X.std(axis=0), 1.0) if len(X) else np.ones(X.shape[1])
        Z = np.hstack([(X - self.mean_) / self.std_, np.ones((len(X), 1))])
        reg = np.full(Z.shape[1], 1.0 / self.C)
        reg[-1] = 0.0  # intercept unpenalised
        w = np.zeros(Z.shape[1])
        if len(y):
            rate = np.clip(y.mean(), 1e-3, 1 - 1e-3)
            w[-1] = np.log(rate / (1 - rate))
        for _ in range(self.max_iter if len(set(y.tolist())) > 1 else 0):
            p = 1.0 / (1.0 + np.exp(-np.clip(Z @ w, -30, 30)))
            grad = Z.T @ (p - y) + reg * w
            hess = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(reg + 1e-9)
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-8:
                break
        self.coef_ = w
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, dtype=float) - self.mean_) / self.std_
        return 1.0 / (1.0 + np.exp(-np.clip(Z @ self.coef_[:-1] + self.coef_[-1], -30, 30)))


@dataclass(frozen=True)
class TierModels:
    """The learned signal as a dial deploys it: one fitted :class:`LearnedConfidence` per
    cascade tier, and how its features were measured in training (the length unit the data
    recorded; whether it had log-probabilities, else the feature is held neutral online too)."""

    tiers: tuple[LearnedConfidence, ...]
    length_unit: str | None  # "tokens" | "chars" | None (no lengths recorded)
    logprobs: bool

    def confidence(self, tier: int, row: np.ndarray) -> float:
        """P(correct) after ``tier`` (0-based; a tier past the fitted ones uses the last model)."""
        return float(self.tiers[min(tier, len(self.tiers) - 1)].predict_proba(row[None, :])[0])

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (the artifact and ``train``'s report stay JSON-shaped)."""
        return {"features": list(FEATURES), "length_unit": self.length_unit, "logprobs": self.logprobs,
                "tiers": [{"mean": m.mean_.tolist(), "std": m.std_.tolist(), "coef": m.coef_.tolist()} for m in self.tiers]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TierModels:
        if list(d.get("features", ())) != list(FEATURES):
            raise ValueError(f"the learned model was fitted on features {d.get('features')}, this version computes {list(FEATURES)}")
        tiers = []
        for t in d["tiers"]:
            m = LearnedConfidence()
            m.mean_, m.std_, m.coef_ = (np.asarray(t[k], dtype=float) for k in ("mean", "std", "coef"))
            tiers.append(m)
        return cls(tuple(tiers), d.get("length_unit"), bool(d.get("logprobs")))
