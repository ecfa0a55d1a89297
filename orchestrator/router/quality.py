"""Instance-level quality prediction: what each expert is likely to score on *this* query.

Two learners on sentence embeddings, blended by cross-validation in ``two_level``:

- :class:`NeighbourScores` — mean recorded score of the k nearest training queries (cosine),
  shrunk towards the expert's overall mean (kNN routing, RouterBench's strongest simple baseline);
- :class:`ExpertLogistic` — one logistic regression per expert on the embedding (the
  "per-model logistic regression" baseline), stored as one weight matrix so a whole batch is
  scored in one matrix product.

Fractional scores (e.g. 0.5 credit) are fitted as weighted 0/1 rows, which is exact for log-loss.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ExpertLogistic", "NeighbourScores", "expert_means", "sigmoid"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def expert_means(scores: np.ndarray) -> np.ndarray:
    """Laplace-smoothed mean score per expert: (sum + 1) / (n + 2)."""
    s = np.nan_to_num(scores, nan=0.5)
    return (s.sum(axis=0) + 1.0) / (s.shape[0] + 2.0)


_MAX_SIMILARITIES = 1 << 26


class NeighbourScores:
    """Mean score of the ``n_neighbors`` most similar training queries, per expert.

    ``shrinkage`` pseudo-rows of the expert's overall mean are added, so a query with a few
    unanimous neighbours is not declared certain.
    """

    def __init__(self, *, n_neighbors: int = 20, shrinkage: float = 2.0):
        self.n_neighbors = n_neighbors
        self.shrinkage = shrinkage

    def fit(self, X: np.ndarray, scores: np.ndarray, costs: np.ndarray | None = None) -> NeighbourScores:
        self.X_ = np.ascontiguousarray(X, dtype=np.float32)
        self.scores_ = np.nan_to_num(scores, nan=0.5).astype(np.float32)
        self.costs_ = None if costs is None else costs.astype(np.float32)
        self.prior_ = expert_means(scores).astype(np.float32)
        return self

    def neighbours(self, X: np.ndarray, k: int | None = None) -> np.ndarray:
        """Indices ``(n, k)`` of the nearest training rows, nearest first."""
        k = min(k or self.n_neighbors, self.X_.shape[0])
        X = X.astype(np.float32, copy=False)
        # Query rows in chunks: the full (n_query x n_train) similarity matrix of a 70k-row
        # cross-validation fold alone is gigabytes; a chunk holds ~64M similarities (256 MB).
        step = max(1, _MAX_SIMILARITIES // max(1, self.X_.shape[0]))
        return np.concatenate([self._neighbours(X[i : i + step], k) for i in range(0, len(X), step)] or [np.zeros((0, k), dtype=np.intp)])

    def _neighbours(self, X: np.ndarray, k: int) -> np.ndarray:
        sims = X @ self.X_.T
        if k >= sims.shape[1]:
            idx = np.tile(np.arange(sims.shape[1]), (X.shape[0], 1))
        else:
            idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        # Nearest first, so callers may take a prefix.
        order = np.argsort(-np.take_along_axis(sims, idx, axis=1), axis=1, kind="stable")
        return np.take_along_axis(idx, order, axis=1)

    def mean_from(self, idx: np.ndarray, k: int | None = None) -> np.ndarray:
        """Plain mean score of the first ``k`` neighbours (no shrinkage: the blend shrinks it)."""
        return self.scores_[idx[:, : k or self.n_neighbors]].mean(axis=1)

    def predict_from(self, idx: np.ndarray, k: int | None = None) -> np.ndarray:
        idx = idx[:, : k or self.n_neighbors]
        k = idx.shape[1]
        return (self.scores_[idx].sum(axis=1) + self.shrinkage * self.prior_) / (k + self.shrinkage)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_from(self.neighbours(X))

    def cost_from(self, idx: np.ndarray) -> np.ndarray | None:
        """Mean recorded cost of the neighbours per expert (cost depends on the query, e.g. its length)."""
        return None if self.costs_ is None else self.costs_[idx[:, : self.n_neighbors]].mean(axis=1)


class ExpertLogistic:
    """P(expert scores 1 | x), an L2 logistic regression per expert, scored as ``sigmoid(X W + b)``.

    The experts' regressions are independent, so all are fitted in one L-BFGS run on the summed
    objective (sklearn's: ``C * log-loss + ||w||^2 / 2``, intercept unpenalised) — one BLAS
    product per step instead of one solver per expert. A fractional score ``s`` is a weighted
    pair of rows (``s`` of a 1, ``1 - s`` of a 0), which is exact for log-loss.
    """

    def __init__(self, *, C: float = 1.0, max_iter: int = 300):
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, scores: np.ndarray) -> ExpertLogistic:
        from scipy.optimize import minimize

        X = np.asarray(X, dtype=np.float64)
        y = np.nan_to_num(scores, nan=0.5).astype(np.float64)
        n, d = X.shape
        m = y.shape[1]
        Xb = np.hstack([X, np.ones((n, 1))])
        reg = np.ones((d + 1, 1))
        reg[-1] = 0.0  # no penalty on the intercept

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            W = theta.reshape(d + 1, m)
            z = Xb @ W
            # log(1 + e^z) - y z, computed stably
            loss = np.logaddexp(0.0, z) - y * z
            grad = Xb.T @ (sigmoid(z) - y)
            f = self.C * loss.sum() + 0.5 * float((reg * W * W).sum())
            return f, (self.C * grad + reg * W).ravel()

        theta0 = np.zeros((d + 1, m))
        mean = np.clip(y.mean(axis=0), 1e-3, 1 - 1e-3)
        theta0[-1] = np.log(mean / (1 - mean))
        res = minimize(objective, theta0.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter})
        W = res.x.reshape(d + 1, m)
        self.W_ = np.ascontiguousarray(W[:-1], dtype=np.float32)
        self.b_ = W[-1].astype(np.float32)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return sigmoid(X.astype(np.float32, copy=False) @ self.W_ + self.b_)
