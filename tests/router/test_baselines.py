"""Reference routers: ties in predicted quality go to the expert that is better on training data."""

from __future__ import annotations

import numpy as np

from orchestrator.data import RoutingDataset
from orchestrator.router.baselines import KNNRouter


def _dataset(scores: np.ndarray, costs: np.ndarray) -> RoutingDataset:
    n, m = scores.shape
    return RoutingDataset(
        source="test", ids=[str(i) for i in range(n)], prompts=[f"q{i}" for i in range(n)], tasks=[None] * n,
        categories=[None] * n, splits=["train"] * n, lines=list(range(1, n + 1)), experts=["cheap", "strong"],
        scores=scores, costs=costs, output_tokens=np.full((n, m), np.nan), output_chars=np.full((n, m), np.nan),
        answers=[{} for _ in range(n)],
    )


def test_knn_breaks_ties_towards_the_expert_better_on_training_data_not_the_cheaper_one():
    # Both experts right on the first four queries (a tie for their neighbours); only the strong
    # (expensive) one right on the last two.
    scores = np.array([[1, 1], [1, 1], [1, 1], [1, 1], [0, 1], [0, 1]], dtype=float)
    costs = np.tile([0.001, 0.03], (6, 1))
    X = np.eye(6, dtype=np.float32)
    router = KNNRouter(n_neighbors=1).fit(_dataset(scores, costs), embeddings=X)
    tied_query = X[:1]
    assert router.route(["q0"], embeddings=tied_query)[0].chosen == ["strong"]
    # The cost dial still moves it to the cheap expert when asked to.
    assert router.route(["q0"], embeddings=tied_query, cost_weight=1.0)[0].chosen == ["cheap"]
