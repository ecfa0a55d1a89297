"""Fixtures for router tests: a fast hashing embedder and a small synthetic routing dataset.

The synthetic data has two topics; expert ``cheap-math`` is right on math and wrong on
history, ``pricey-history`` the reverse, ``generalist`` is right 75% of the time everywhere
and costs the most. A router that reads the query must beat every single expert.
"""

from __future__ import annotations

import hashlib
import zlib

import numpy as np
import pytest

from orchestrator.data import RoutingDataset

MATH_WORDS = "integral derivative equation algebra matrix prime sum divide fraction polynomial".split()
HISTORY_WORDS = "empire king war treaty revolution dynasty battle century pharaoh senate".split()
EXPERTS = ["cheap-math", "generalist", "pricey-history"]


class HashingEmbedder:
    """Bag of words hashed into 64 dimensions, L2-normalised: deterministic and instant."""

    def __init__(self, name: str = "test/hashing-64", dim: int = 64):
        self.name = name
        self.dim = dim
        self.fingerprint = hashlib.sha256(name.encode()).hexdigest()

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, zlib.crc32(w.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)


def make_dataset(n: int = 240, seed: int = 0) -> RoutingDataset:
    rng = np.random.default_rng(seed)
    prompts, cats, tasks, scores, costs = [], [], [], [], []
    for i in range(n):
        math = i % 2 == 0
        words = rng.choice(MATH_WORDS if math else HISTORY_WORDS, size=6)
        prompts.append(" ".join(words) + f" q{i}")
        cats.append("math" if math else "history")
        tasks.append("algebra" if math else "world-history")
        general = float(rng.random() < 0.75)
        scores.append([1.0 if math else 0.0, general, 0.0 if math else 1.0])
        costs.append([1.0, 10.0, 4.0])
    m = len(EXPERTS)
    return RoutingDataset(
        source="<synthetic>",
        ids=[f"r{i}" for i in range(n)],
        prompts=prompts,
        tasks=tasks,
        categories=cats,
        splits=["train" if i < int(n * 0.75) else "test" for i in range(n)],
        lines=list(range(1, n + 1)),
        experts=list(EXPERTS),
        scores=np.array(scores),
        costs=np.array(costs),
        output_tokens=np.full((n, m), np.nan),
        output_chars=np.full((n, m), np.nan),
        answers=[{} for _ in range(n)],
    )


@pytest.fixture(scope="session")
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def other_embedder() -> HashingEmbedder:
    return HashingEmbedder(name="test/other-model")


@pytest.fixture(scope="session")
def experts() -> list[str]:
    return list(EXPERTS)


@pytest.fixture(scope="session")
def dataset() -> RoutingDataset:
    return make_dataset()


@pytest.fixture(scope="session")
def fitted(dataset, embedder):
    from orchestrator.router import TwoLevelRouter

    return TwoLevelRouter(embedder=embedder, cv=3, n_neighbors_grid=(5, 10), C_grid=(1.0,)).fit(dataset.split("train"))
