"""Saving and loading the router's artifact folder."""

from __future__ import annotations

import json

import pytest

from orchestrator.errors import ArtifactError
from orchestrator.router import TwoLevelRouter


@pytest.fixture
def saved(tmp_path, fitted):
    folder = tmp_path / "router"
    fitted.save(folder)
    return folder


def test_artifact_round_trip_gives_identical_decisions(saved, fitted, embedder, dataset):
    loaded = TwoLevelRouter.load(saved, embedder=embedder)
    prompts = dataset.split("test").prompts
    assert [d.to_dict() for d in loaded.route(prompts)] == [d.to_dict() for d in fitted.route(prompts)]
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["embedding_model"] == embedder.name and manifest["embedder_fingerprint"] == embedder.fingerprint
    assert manifest["experts"] == fitted.experts_


def test_load_with_another_embedding_model_is_refused(saved, other_embedder):
    with pytest.raises(ArtifactError, match="trained with embedding model 'test/hashing-64'"):
        TwoLevelRouter.load(saved, embedder=other_embedder)


def test_load_of_corrupt_file_is_refused(saved, embedder):
    (saved / "router.joblib").write_bytes(b"garbage")
    with pytest.raises(ArtifactError, match="corrupt"):
        TwoLevelRouter.load(saved, embedder=embedder)


def test_load_of_missing_folder_or_manifest_is_refused(tmp_path, embedder):
    with pytest.raises(ArtifactError, match="not a folder"):
        TwoLevelRouter.load(tmp_path / "nowhere", embedder=embedder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="manifest.json is missing"):
        TwoLevelRouter.load(tmp_path / "empty", embedder=embedder)


def test_load_of_missing_file_is_refused(saved, embedder):
    (saved / "router.joblib").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        TwoLevelRouter.load(saved, embedder=embedder)


def test_static_tier_round_trips_and_routes(tmp_path, fitted, embedder, dataset):
    import numpy as np

    from orchestrator.router.static_tier import StaticEmbedder

    rng = np.random.default_rng(0)
    vocab, dim = 30522, embedder.dim
    table = {"vectors": rng.normal(size=(vocab, dim)).astype(np.float16), "weights": np.ones(vocab, dtype=np.float32),
             "W": np.eye(dim, dtype=np.float32), "b": np.zeros(dim, dtype=np.float32)}
    X = StaticEmbedder(table, base=embedder).encode(["integral of a fraction", "integral of a fraction", "battle"])
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(X[0], X[1])
    fitted.static_tier_ = table
    try:
        fitted.save(tmp_path / "r")
    finally:
        del fitted.static_tier_
    loaded = TwoLevelRouter.load(tmp_path / "r", embedder=embedder, tier="static")
    assert isinstance(loaded.embedder, StaticEmbedder) and loaded.embedder.base.fingerprint == embedder.fingerprint
    assert len(loaded.route(dataset.split("test").prompts[:4])) == 4


def test_static_tier_missing_is_a_clear_error(saved, embedder):
    with pytest.raises(ArtifactError, match="no static embedding tier"):
        TwoLevelRouter.load(saved, embedder=embedder, tier="static")
