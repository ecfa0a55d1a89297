"""Confidence signals that decide whether a cascade accepts the answer it has or escalates.

- ``agreement``: the fraction of the called experts whose extracted answers agree with the
  merged answer (needs two or more experts; a missing answer agrees with nobody);
- ``router``: the router's predicted P(correct) of the expert whose answer is returned;
- ``logprob``: exp(mean token log-probability) of that expert's answer (vLLM's ``logprobs``);
- ``learned``: a logistic regression over all of the above plus answer length and a missing-answer
  flag, fitted on held-out training rows per tier, so its output is a calibrated P(correct).

Each signal maps to a number in [0, 1]; a policy accepts when it is ``>= threshold``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FEATURES", "SIGNALS", "LearnedConfidence", "confidence_features", "signal_value"]

SIGNALS = ("agreement", "router", "logprob", "learned")
FEATURES = ("agree", "share", "router_p", "missing", "log_length", "logprob_p", "n_called")


def confidence_features(*, agree: float, share: float, router_p: float, missing: bool, length: float | None,
                        logprob: float | None, n_called: int) -> np.ndarray:
    """One feature row (see ``FEATURES``); unknown length/logprob become neutral values."""
    return np.array([
        agree, share, router_p, float(missing),
        0.0 if length is None or not np.isfinite(length) else float(np.log1p(max(length, 0.0))),
        0.5 if logprob is None or not np.isfinite(logprob) else float(np.exp(min(logprob, 0.0))),
        float(n_called),
    ])


def signal_value(name: str, features: np.ndarray) -> np.ndarray:
    """The raw (unlearned) signal from feature rows ``(n, len(FEATURES))``."""
    col = {"agreement": "agree", "router": "router_p", "logprob": "logprob_p"}[name]
    return features[:, FEATURES.index(col)]


class LearnedConfidence:
    """P(the merged answer is right) from the feature rows: standardised logistic regression
    (scikit-learn estimator API). ``C``: inverse regularisation."""

    def __init__(self, *, C: float = 1.0):
        self.C = C

    def fit(self, X: np.ndarray, y: np.ndarray) -> LearnedConfidence:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        y = (np.asarray(y) >= 0.5).astype(int)
        self.constant_ = None
        if len(set(y.tolist())) < 2:  # one class only: predict its rate
            self.constant_ = float(y.mean()) if len(y) else 0.5
            return self
        self.model_ = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=1000)).fit(X, y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if self.constant_ is not None:
            return np.full(len(X), self.constant_)
        return self.model_.predict_proba(X)[:, 1]
