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


def test_neighbour_search_in_chunks_finds_the_same_neighbours_as_one_pass(monkeypatch):
    from orchestrator.router import quality

    rng = np.random.default_rng(0)
    train = rng.standard_normal((500, 16)).astype(np.float32)
    queries = rng.standard_normal((300, 16)).astype(np.float32)
    scores = rng.integers(0, 2, (500, 3)).astype(float)
    knn = quality.NeighbourScores(n_neighbors=10).fit(train, scores)
    whole = knn.neighbours(queries)
    monkeypatch.setattr(quality, "_MAX_SIMILARITIES", 500 * 7)  # chunks of 7 query rows
    chunked = knn.neighbours(queries)
    assert chunked.shape == whole.shape == (300, 10)
    # Order may differ only between near-equal similarities (float rounding); the sets may not.
    assert all(set(a) == set(b) for a, b in zip(whole, chunked, strict=True))
    np.testing.assert_allclose(knn.predict_from(chunked), knn.predict_from(whole))


def test_static_tier_has_its_own_fingerprint_so_caches_never_mix_it_with_minilm():
    from types import SimpleNamespace

    from orchestrator.router.static_tier import StaticEmbedder

    base = SimpleNamespace(fingerprint="f" * 64, name="minilm")
    table = {"vectors": np.ones((4, 3), np.float16), "weights": np.ones(4), "W": np.eye(3), "b": np.zeros(3)}
    other = {**table, "W": 2 * np.eye(3)}
    fp = StaticEmbedder(table, base).fingerprint
    assert fp != base.fingerprint
    assert fp == StaticEmbedder(dict(table), base).fingerprint  # stable for the same table
    assert fp != StaticEmbedder(other, base).fingerprint  # another distillation, another identity
