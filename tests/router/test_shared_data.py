"""Train on a subset of a real shared routing file (skipped when ../shared/data is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from orchestrator.data import load_dataset
from orchestrator.router import TwoLevelRouter
from orchestrator.router.baselines import BestSingleRouter, KNNRouter, RandomRouter, ScoreRegressionRouter

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "routing" / "routellm_gsm8k_pair.jsonl"


@pytest.fixture(scope="module")
def pair():
    if not SHARED.is_file():
        pytest.skip(f"shared routing data absent: {SHARED}")
    ds = load_dataset(SHARED)
    return ds.split("train").subset(slice(0, 400)), ds.split("test").subset(slice(0, 200))


def accuracy(router, test) -> float:
    picks = np.array([test.experts.index(d.chosen[0]) for d in router.route(test.prompts, k=1)])
    return float(np.nan_to_num(test.scores)[np.arange(len(test)), picks].mean())


def test_router_and_baselines_share_one_surface_on_real_data(pair, embedder):
    train, test = pair
    best = BestSingleRouter().fit(train)
    router = TwoLevelRouter(embedder=embedder, cv=3, n_neighbors_grid=(10, 20), C_grid=(1.0,)).fit(train)
    assert router.experts_ == train.experts and router.categories_ == ["math"]
    for baseline in (KNNRouter(embedder=embedder), ScoreRegressionRouter(embedder=embedder), RandomRouter()):
        baseline.fit(train)
        assert baseline.predict_quality(test.prompts[:3]).shape == (3, 2)
    # Hashing embeddings carry little signal on GSM8K: the router must at least match best single.
    assert accuracy(router, test) >= accuracy(best, test) - 0.02
