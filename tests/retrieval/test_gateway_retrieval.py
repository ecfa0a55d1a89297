"""Retrieval through the real gateway app: cited sources in the response, the trace, the metrics,
and a store that is down (200, answered without retrieval, flagged)."""

from __future__ import annotations

import shutil

import httpx
import pytest
from fastapi.testclient import TestClient

from orchestrator.config import parse_config
from orchestrator.experts.client import ExpertClient
from orchestrator.retrieval.index import open_index
from services.gateway import create_app
from gateway.fakes import FakeVllm, RankedRouter, config_yaml

from .test_ingest import _write_corpus


@pytest.fixture
def gateway_with_index(embedder, tmp_path):
    docs = _write_corpus(tmp_path / "docs")
    yaml_text = config_yaml() + f"\nretrieval:\n  enabled: true\n  path: {tmp_path / 'indices'}\n  index: kb\n  top_k: 2\n  min_score: -1\n"
    config = parse_config(yaml_text)
    open_index(config.retrieval, "kb", embedder, create=True).ingest([docs])
    fake = FakeVllm({"alpha": "The kiwi [1].", "beta": "The kiwi [1].", "gamma": "The kiwi [1]."})
    client = ExpertClient(config, http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake)))
    app = create_app(config, router=RankedRouter(k=1), client=client)
    with TestClient(app, raise_server_exceptions=False) as tc:
        tc.app.state.gateway.pipeline.context.retriever._embedder = embedder  # share the loaded model
        yield tc, tmp_path


def _ask(tc, retrieval):
    body = {"model": "router/auto", "messages": [{"role": "user", "content": "Which bird cannot fly?"}],
            "orchestrator": {"retrieval": retrieval, "trace": True}}
    return tc.post("/v1/chat/completions", json=body)


def test_the_response_carries_the_sources_and_the_metrics_count_the_decision(gateway_with_index):
    tc, _ = gateway_with_index
    resp = _ask(tc, "always")
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert data["sources"][0]["n"] == 1 and data["sources"][0]["source"].endswith("kiwi.md")
    assert resp.headers["x-orchestrator-sources"] == "2"
    event = next(e for e in data["trace"]["events"] if e["step"] == "retrieval")
    assert event["decision"]["strategy"] == "single" and event["decision"]["passages"][0]["score"] > 0
    assert "sources" not in _ask(tc, "never").json()
    metrics = tc.get("/metrics").text
    assert 'orchestrator_retrieval_decisions_total{mode="always",retrieved="true",strategy="single"} 1.0' in metrics
    assert 'orchestrator_retrieval_decisions_total{mode="never",retrieved="false",strategy="no_retrieval"} 1.0' in metrics
    assert "orchestrator_retrieval_seconds_count 2.0" in metrics and "orchestrator_retrieval_passages_sum 2.0" in metrics


def test_a_store_that_is_down_still_answers_200_and_the_trace_says_why(gateway_with_index):
    tc, tmp_path = gateway_with_index
    shutil.rmtree(tmp_path / "indices" / "kb")
    (tmp_path / "indices" / "kb" / "chunks.sqlite").mkdir(parents=True)
    resp = _ask(tc, "always")
    assert resp.status_code == 200
    event = next(e for e in resp.json()["trace"]["events"] if e["step"] == "retrieval")["decision"]
    assert event["degraded"] is True and event["retrieved"] is False and "sources" not in resp.json()
    assert "orchestrator_retrieval_errors_total 1.0" in tc.get("/metrics").text
