"""Skills per query without an LLM: the labels the data already carries, plus pseudo-skills.

Symbolic-MoE asks an LLM for 2–5 keywords per question. Routing files already label every
row with a ``category`` and a ``task``; a query's skills are therefore

- ``category:<c>`` — the category the level-1 classifier predicted (none on fallback);
- ``task:<t>`` — task labels that at least ``min_share`` of its nearest training queries carry;
- ``cluster:<j>`` — its nearest k-means centroid of the training embeddings, a pseudo-skill
  that splits large tasks into finer topics (and works on data with no labels at all).

Training rows get their *recorded* category and task plus their cluster.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from sklearn.cluster import KMeans

__all__ = ["SkillTagger"]


class SkillTagger:
    """Parameters: ``n_clusters`` (None = about one per 100 training rows, 4..32),
    ``n_neighbors`` and ``min_share`` for task labels from neighbours, ``random_state``."""

    def __init__(self, *, n_clusters: int | None = None, n_neighbors: int = 10, min_share: float = 0.3, random_state: int = 0):
        self.n_clusters = n_clusters
        self.n_neighbors = n_neighbors
        self.min_share = min_share
        self.random_state = random_state

    def fit(self, X: np.ndarray, categories: list[str | None], tasks: list[str | None]) -> SkillTagger:
        n = X.shape[0]
        k = self.n_clusters or int(np.clip(n // 100, 4, 32))
        k = max(1, min(k, n))
        km = KMeans(n_clusters=k, n_init=3, random_state=self.random_state).fit(X)
        self.centroids_ = km.cluster_centers_.astype(np.float32)
        self.train_clusters_ = km.labels_.astype(int)
        self.train_tasks_ = [t for t in tasks]
        self.train_categories_ = list(categories)
        return self

    def train_skills(self) -> list[list[str]]:
        out = []
        for c, t, j in zip(self.train_categories_, self.train_tasks_, self.train_clusters_, strict=True):
            ss = [f"cluster:{j}"]
            if c:
                ss.insert(0, f"category:{c}")
            if t:
                ss.insert(1 if c else 0, f"task:{t}")
            out.append(ss)
        return out

    def clusters(self, X: np.ndarray) -> np.ndarray:
        return np.argmax(X.astype(np.float32, copy=False) @ self.centroids_.T, axis=1)

    def query_skills(self, X: np.ndarray, neighbours: np.ndarray, categories: list[str | None],
                     tasks: list[str | None] | None = None) -> list[list[str]]:
        """Skills of new queries; ``neighbours`` are their nearest training rows (from the kNN learner),
        ``categories`` the classifier's category per query (None on fallback), ``tasks`` the task
        classifier's prediction (the finest label; None when the data has no tasks)."""
        clusters = self.clusters(X)
        out = []
        for i in range(X.shape[0]):
            ss = [f"category:{categories[i]}"] if categories[i] else []
            near = neighbours[i, : self.n_neighbors]
            counts = Counter(self.train_tasks_[j] for j in near if self.train_tasks_[j])
            ss += [f"task:{t}" for t, c in counts.most_common() if c >= self.min_share * len(near)]
            if tasks is not None and tasks[i] and f"task:{tasks[i]}" not in ss:
                ss.insert(1 if categories[i] else 0, f"task:{tasks[i]}")
            ss.append(f"cluster:{clusters[i]}")
            out.append(ss)
        return out
