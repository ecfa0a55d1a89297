"""Reference routers with the same surface as :class:`TwoLevelRouter` (``fit``,
``predict_quality``, ``route``), so evaluation scores every policy the same way.

- :class:`KNNRouter` — mean score of the k nearest training queries (RouterBench's kNN);
- :class:`ScoreRegressionRouter` — per-expert logistic regression on the embedding;
- :class:`BestSingleRouter` — the expert with the best training accuracy, always;
- :class:`RandomRouter` — a uniformly random expert.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from orchestrator.router import selection
from orchestrator.router.decision import RankedExpert, RoutingDecision
from orchestrator.router.quality import ExpertLogistic, NeighbourScores, expert_means
from orchestrator.router.text import query_views

__all__ = ["BestSingleRouter", "KNNRouter", "RandomRouter", "ScoreRegressionRouter"]


class _BaselineRouter:
    """Shared plumbing: embeddings, costs, and turning quality into decisions."""

    embedder: Any = None

    def _embed(self, prompts: list[str], embeddings: np.ndarray | None) -> np.ndarray:
        if embeddings is not None:
            return np.asarray(embeddings, dtype=np.float32)
        if self.embedder is None:
            from orchestrator.embeddings import Embedder

            self.embedder = Embedder()
        return np.asarray(self.embedder.encode(query_views(prompts)), dtype=np.float32)

    def fit(self, dataset, categories=None, config=None, embeddings: np.ndarray | None = None) -> Any:
        self.experts_ = list(dataset.experts)
        costs, self.cost_unit_ = dataset.cost_matrix()
        self.expert_cost_ = None if costs is None else costs.mean(axis=0)
        self.cost_scale_ = 1.0 if costs is None else selection.CostScale.fit(self.expert_cost_)
        # Ties in predicted quality (frequent with k neighbours' mean 0/1 scores) go to the expert
        # that is better on the training split, as a user would pick; breaking them towards the
        # cheaper expert instead would make these references a different cost-quality point.
        self.tie_rank_ = np.argsort(np.argsort(-expert_means(dataset.scores), kind="stable"), kind="stable").astype(float)
        self._fit(dataset, self._embed(dataset.prompts, embeddings) if self._needs_embeddings else None)
        return self

    _needs_embeddings = True

    def route(self, prompts: list[str], *, embeddings: np.ndarray | None = None, k: int | None = None,
              cost_weight: float | None = None, budget: float | None = None, allowed_experts: list[str] | None = None,
              mode: str = "two_level") -> list[RoutingDecision]:
        q = self.predict_quality(prompts, embeddings=embeddings)
        n, m = q.shape
        cost = None if self.expert_cost_ is None else np.broadcast_to(self.expert_cost_, (n, m))
        score = selection.cost_adjusted(q, cost, cost_weight or 0.0, self.cost_scale_)
        if allowed_experts is not None:
            score = np.where(np.isin(self.experts_, allowed_experts)[None, :], score, -np.inf)
        if budget is not None and cost is not None:
            score = np.where(cost <= budget, score, -np.inf)
        ties = np.broadcast_to(self.tie_rank_, (n, m))
        picks = selection.top_k(score, np.full(n, k or 1), ties)
        out = []
        for i in range(n):
            order = selection.top_k(score[i : i + 1], np.array([m]), ties[i : i + 1])[0]
            ranked = [RankedExpert(self.experts_[j], float(score[i, j]), float(q[i, j]), None if cost is None else float(cost[i, j])) for j in order]
            chosen = [self.experts_[j] for j in picks[i]]
            out.append(RoutingDecision("general", {}, [], ranked, len(chosen), chosen, None, None))
        return out


class KNNRouter(_BaselineRouter):
    def __init__(self, n_neighbors: int = 20, embedder: Any = None):
        self.n_neighbors = n_neighbors
        self.embedder = embedder

    def _fit(self, dataset, X) -> None:
        self.knn_ = NeighbourScores(n_neighbors=self.n_neighbors, shrinkage=0.0).fit(X, dataset.scores)

    def predict_quality(self, prompts: list[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        return self.knn_.predict(self._embed(prompts, embeddings))


class ScoreRegressionRouter(_BaselineRouter):
    def __init__(self, C: float = 1.0, embedder: Any = None):
        self.C = C
        self.embedder = embedder

    def _fit(self, dataset, X) -> None:
        self.model_ = ExpertLogistic(C=self.C).fit(X, dataset.scores)

    def predict_quality(self, prompts: list[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        return self.model_.predict(self._embed(prompts, embeddings))


class BestSingleRouter(_BaselineRouter):
    _needs_embeddings = False

    def __init__(self, embedder: Any = None):
        self.embedder = embedder

    def _fit(self, dataset, X) -> None:
        self.means_ = expert_means(dataset.scores)

    def predict_quality(self, prompts: list[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        return np.broadcast_to(self.means_, (len(prompts), len(self.means_))).copy()


class RandomRouter(_BaselineRouter):
    _needs_embeddings = False

    def __init__(self, random_state: int = 0, embedder: Any = None):
        self.random_state = random_state
        self.embedder = embedder

    def _fit(self, dataset, X) -> None:
        self.rng_ = np.random.default_rng(self.random_state)

    def predict_quality(self, prompts: list[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        return self.rng_.random((len(prompts), len(self.experts_)))
