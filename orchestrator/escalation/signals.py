"""Confidence signals that decide whether a cascade accepts the answer it has or escalates.

- ``agreement``: the fraction of the called experts whose extracted answers agree with the
  merged answer (needs two or more experts; a missing answer agrees with nobody);
- ``router``: the router's predicted P(correct) of the expert whose answer is returned;
- ``logprob``: exp(mean token log-probability) of that expert's answer (vLLM's ``logprobs``);
- ``posterior``: the merged answer's posterior when every called expert is a voter as reliable as
  the router predicts for this query (:func:`~orchestrator.escalation.cascade.answer_posterior`);
- ``learned``: P(correct) from all of the above plus answer length, a missing-answer flag and
  the router's predicted gain from escalating, by a model fitted on training rows per tier: a
  logistic regression, or gradient-boosted trees where the features act non-linearly (an answer
  that rambles and one that stops short are both less often right); which one is chosen on
  train CV with the plan and threshold. ``orchestrator train`` stores the fitted models
  (:class:`TierModels`) with the tuned dial; the gateway computes the same feature row
  (:func:`tally_features`) from live answers.

Each signal maps to a number in [0, 1]; a policy accepts when it is ``>= threshold``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from orchestrator.escalation.cascade import Tally
from orchestrator.threads import thread_controller

__all__ = ["FEATURES", "LEARNERS", "SIGNALS", "BoostedConfidence", "Confidence", "LearnedConfidence", "TierModels",
           "confidence_features", "signal_value", "tally_features"]

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


class BoostedConfidence:
    """P(the merged answer is right) by gradient-boosted trees (scikit-learn's
    ``HistGradientBoostingClassifier``): length and the router's P(correct) act non-linearly and
    together, which a logistic regression cannot express. Small, heavily regularised trees
    (15 leaves of at least 40 rows, 100 rounds at rate 0.05), fixed rather than tuned: thresholds
    and plans are already chosen on the same folds. A tier whose rows are all right (or all
    wrong) predicts that rate. Fits and predictions run on one OpenMP thread: they are small and
    many, and next to torch's OpenMP pool (the embedder, in the same process) two threads made
    ``orchestrator eval`` on 60 training rows take 238 s instead of 21 s. The limit goes through
    the process's one controller (:func:`~orchestrator.threads.thread_controller`): a fresh
    ``threadpool_limits`` per call costs 3.4 ms, more than the prediction."""

    def __init__(self, *, random_state: int = 0):
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> BoostedConfidence:
        from sklearn.ensemble import HistGradientBoostingClassifier

        y = (np.asarray(y, dtype=float) >= 0.5).astype(int)
        self.rate_ = float(y.mean()) if len(y) else 0.5
        self.model_ = None
        if 0 < y.sum() < len(y):
            with thread_controller().limit(limits=1, user_api="openmp"):
                self.model_ = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40,
                                                             random_state=self.random_state).fit(np.asarray(X, dtype=float), y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if self.model_ is None:
            return np.full(len(X), self.rate_)
        with thread_controller().limit(limits=1, user_api="openmp"):
            return self.model_.predict_proba(X)[:, 1]


class Confidence(Protocol):
    """A learned signal's model: fitted on feature rows, gives P(correct) per row (1-D)."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> Confidence: ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...


LEARNERS: dict[str, type] = {"logistic": LearnedConfidence, "boosted": BoostedConfidence}
"""The model classes the learned signal's tuning chooses among (with plan and threshold)."""


@dataclass(frozen=True)
class TierModels:
    """The learned signal as a dial deploys it: one fitted model per cascade tier, which learner,
    the features it was fitted on, and how they were measured in training (the length unit the
    data recorded; whether it had log-probabilities, else the feature is held neutral online too).
    Stored as is in the router's artifact."""

    learner: str
    tiers: tuple[Confidence, ...]
    length_unit: str | None  # "tokens" | "chars" | None (no lengths recorded)
    logprobs: bool
    features: tuple[str, ...] = FEATURES

    def confidence(self, tier: int, row: np.ndarray) -> float:
        """P(correct) after ``tier`` (0-based; a tier past the fitted ones uses the last model)."""
        return float(self.tiers[min(tier, len(self.tiers) - 1)].predict_proba(row[None, :])[0])
