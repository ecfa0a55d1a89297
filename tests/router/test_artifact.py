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
    import joblib

    assert "static_tier_" not in joblib.load(tmp_path / "r" / "router.joblib")["state"]  # stored once, in its own file
    loaded = TwoLevelRouter.load(tmp_path / "r", embedder=embedder)  # static is the default tier
    assert isinstance(loaded.embedder, StaticEmbedder) and loaded.embedder.base.fingerprint == embedder.fingerprint
    assert loaded.embedding_tier == "static" and loaded.tier_warning is None
    assert len(loaded.route(dataset.split("test").prompts[:4])) == 4


def test_the_static_tier_routes_with_the_router_fitted_on_its_own_vectors(tmp_path, fitted, embedder, dataset):
    """`train` fits a twin router on the static tier's vectors (what it sees when serving); the
    static tier loads the twin, MiniLM the router fitted on MiniLM's vectors."""
    import copy

    import numpy as np

    vocab, dim = 30522, embedder.dim
    table = {"vectors": np.random.default_rng(0).normal(size=(vocab, dim)).astype(np.float16), "weights": np.ones(vocab, dtype=np.float32),
             "W": np.eye(dim, dtype=np.float32), "b": np.zeros(dim, dtype=np.float32)}
    twin = copy.copy(fitted)
    twin.cv_cost_weight_ = 0.123  # marks the twin's state
    fitted.static_tier_ = table
    try:
        fitted.save(tmp_path / "r", static_router=twin)
    finally:
        del fitted.static_tier_
    assert "static_router.joblib" in json.loads((tmp_path / "r" / "manifest.json").read_text())["files"]  # checksummed too
    static = TwoLevelRouter.load(tmp_path / "r", embedder=embedder, tier="static")
    minilm = TwoLevelRouter.load(tmp_path / "r", embedder=embedder, tier="minilm")
    assert static.cv_cost_weight_ == 0.123 and minilm.cv_cost_weight_ == fitted.cv_cost_weight_
    with pytest.raises(ValueError, match="no static tier"):
        fitted.save(tmp_path / "r2", static_router=twin)
    assert len(static.route(dataset.split("test").prompts[:4])) == 4


def test_the_shipped_default_tier_is_static_everywhere_it_is_chosen():
    """One default, as docs/benchmarks.md and the README say: train distils the static tier,
    and serve, the gateway, its launcher and `route` load it unless told otherwise."""
    import inspect

    from orchestrator.cli.route_cmd import route
    from orchestrator.cli.serve_cmd import serve
    from orchestrator.cli.train_cmd import train
    from orchestrator.router.artifact import DEFAULT_TIER
    from router_training.train import train_router
    from services.gateway.app import create_app
    from services.gateway.launcher import GatewayProcess
    from services.gateway.state import GatewayState

    def default(fn, name):
        value = inspect.signature(fn).parameters[name].default
        return getattr(value, "default", value)  # typer.Option(...) carries its default

    assert DEFAULT_TIER == "static"
    assert default(serve, "router_tier") == default(route, "tier") == DEFAULT_TIER
    assert default(create_app, "router_tier") == GatewayState.router_tier == DEFAULT_TIER
    assert "--router-tier" not in GatewayProcess("experts.yaml")._command()  # serve's own default applies
    assert default(train, "static_tier") is True and default(train_router, "static_tier") is True


def test_an_artifact_without_the_static_tier_serves_on_minilm_with_a_warning(saved, embedder, dataset, caplog):
    with caplog.at_level("WARNING", logger="orchestrator.router.artifact"):
        loaded = TwoLevelRouter.load(saved, embedder=embedder)  # the default tier: static
    assert loaded.embedding_tier == "minilm" and loaded.embedder is embedder
    assert "no static embedding tier" in loaded.tier_warning and "orchestrator train" in loaded.tier_warning
    assert loaded.tier_warning in caplog.text
    assert len(loaded.route(dataset.split("test").prompts[:3])) == 3

    from orchestrator.router.dials import load_configured

    _, warnings = load_configured(saved, None, embedder=embedder)
    assert warnings == [loaded.tier_warning]
    explicit = TwoLevelRouter.load(saved, embedder=embedder, tier="minilm")
    assert explicit.embedding_tier == "minilm" and explicit.tier_warning is None


def test_an_unknown_tier_is_a_clear_error(saved, embedder):
    with pytest.raises(ArtifactError, match="unknown embedding tier 'large'"):
        TwoLevelRouter.load(saved, embedder=embedder, tier="large")
