"""Level 1: the category classifier of CoE two-step routing (arXiv 2412.01868).

A linear classifier on sentence embeddings, temperature-scaled on held-out data so that its
probabilities mean what they say; when the normalised entropy of p(category | x) exceeds a
threshold the query falls back to the general category (which maps to the strongest
generalist). The category -> expert map lives in :mod:`orchestrator.router.two_level`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

__all__ = ["CategoryClassifier", "normalised_entropy"]


def normalised_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy of each row divided by log(K): 0 = certain, 1 = uniform."""
    k = probs.shape[1]
    if k <= 1:
        return np.zeros(probs.shape[0])
    p = np.clip(probs, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1) / np.log(k)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class CategoryClassifier:
    """Multinomial logistic regression with a fitted temperature.

    Parameters
    ----------
    C : inverse regularisation strength.
    class_weight : ``"balanced"`` so small categories are not drowned by large ones.
    calibration_fraction : share of rows held out to fit the temperature.
    random_state : seed of the held-out split.

    Attributes
    ----------
    classes_ : category names.
    temperature_ : logits are divided by this before the softmax.
    coef_, intercept_ : the refitted (on all rows) linear head, as plain arrays for fast scoring.
    """

    def __init__(self, *, C: float = 4.0, class_weight: str | None = "balanced", calibration_fraction: float = 0.2, random_state: int = 0):
        self.C = C
        self.class_weight = class_weight
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    def _head(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000)

    def fit(self, X: np.ndarray, y: list[str]) -> CategoryClassifier:
        y_arr = np.asarray(y, dtype=object)
        self.classes_ = sorted(set(y_arr.tolist()))
        if len(self.classes_) == 1:
            self.coef_ = np.zeros((1, X.shape[1]))
            self.intercept_ = np.zeros(1)
            self.temperature_ = 1.0
            return self
        counts = {c: int((y_arr == c).sum()) for c in self.classes_}
        stratify = y_arr if min(counts.values()) >= 2 and len(y_arr) * self.calibration_fraction >= len(self.classes_) else None
        self.temperature_ = 1.0
        if len(y_arr) >= 20:
            X_fit, X_cal, y_fit, y_cal = train_test_split(
                X, y_arr, test_size=self.calibration_fraction, random_state=self.random_state, stratify=stratify
            )
            if len(set(y_fit.tolist())) == len(self.classes_):
                head = self._head().fit(X_fit, y_fit)
                self.temperature_ = self._fit_temperature(head.decision_function(X_cal), y_cal, list(head.classes_))
        head = self._head().fit(X, y_arr)
        coef, intercept = head.coef_, head.intercept_
        if len(self.classes_) == 2:  # sklearn's binary head has one row: expand to two logits
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_ = np.ascontiguousarray(coef, dtype=np.float32)
        self.intercept_ = intercept.astype(np.float32)
        return self

    @staticmethod
    def _fit_temperature(logits: np.ndarray, y: np.ndarray, classes: list[str]) -> float:
        if logits.ndim == 1:
            logits = np.stack([-logits / 2, logits / 2], axis=1)
        idx = np.array([classes.index(c) for c in y])

        def nll(log_t: float) -> float:
            p = _softmax(logits / np.exp(log_t))
            return float(-np.log(np.clip(p[np.arange(len(idx)), idx], 1e-12, None)).mean())

        res = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded")
        return float(np.exp(res.x))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if len(self.classes_) == 1:
            return np.ones((X.shape[0], 1))
        return _softmax((X @ self.coef_.T + self.intercept_) / self.temperature_)

    def predict(self, X: np.ndarray) -> list[str]:
        return [self.classes_[i] for i in self.predict_proba(X).argmax(axis=1)]
