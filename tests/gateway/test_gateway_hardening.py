"""Start-up and operations behaviour: optional auth on /metrics and the docs, the router
artifact checked against experts.yaml, and an OpenAPI document without phantom statuses."""

from __future__ import annotations

import pytest

from .fakes import EXPERTS, RankedRouter


class TrainedFor(RankedRouter):
    """The ranked router, as if its artifact had been trained for ``experts_``."""

    def __init__(self, experts: list[str]):
        super().__init__()
        self.experts_ = experts
        self.allowed_seen: list[list[str] | None] = []

    def route(self, prompts, *, allowed_experts=None, **kwargs):
        self.allowed_seen.append(allowed_experts)
        return super().route(prompts, allowed_experts=allowed_experts, **kwargs)


@pytest.mark.parametrize("protect", [False, True])
def test_metrics_need_a_key_only_when_protected(make_gateway, protect):
    client = make_gateway(keys=("sk-1",), protect_metrics=protect)
    assert client.get("/metrics").status_code == (401 if protect else 200)
    assert client.get("/metrics", headers={"Authorization": "Bearer sk-1"}).status_code == 200


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_docs_need_a_key_when_protected(make_gateway, path):
    client = make_gateway(keys=("sk-1",), protect_docs=True)
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer sk-1"}).status_code == 200
    assert make_gateway(keys=("sk-1",)).get(path).status_code == 200


def test_openapi_documents_real_statuses_and_no_422(gateway):
    spec = gateway.get("/openapi.json").json()
    chat = spec["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert "422" not in chat and {"200", "400", "401", "404", "502", "503", "504"} <= set(chat)
    assert "text/event-stream" in chat["200"]["content"]
    assert {"/v1/completions", "/v1/embeddings", "/v1/responses"} <= set(spec["paths"])


def test_router_trained_for_other_experts_is_refused_at_start_up(make_gateway):
    client = make_gateway(router=TrainedFor(["llama-x", "mistral-y"]))
    ready = client.get("/ready").json()
    assert "none of which is in experts.yaml" in ready["router"]
    routed = client.post("/v1/chat/completions", json={"model": "router/auto", "messages": [{"role": "user", "content": "hi"}]})
    assert routed.status_code == 503 and "retrain" in routed.json()["error"]["message"]
    direct = client.post("/v1/chat/completions", json={"model": "alpha", "messages": [{"role": "user", "content": "hi"}]})
    assert direct.status_code == 200


def test_router_with_some_unknown_experts_routes_only_among_known_ones(make_gateway, caplog):
    router = TrainedFor(["alpha", "beta", "retired-expert"])
    client = make_gateway(router=router)
    assert "retired-expert" in caplog.text
    response = client.post("/v1/chat/completions", json={"model": "router/auto", "messages": [{"role": "user", "content": "What is 2+2?"}]})
    assert response.status_code == 200
    assert set(response.headers["x-orchestrator-experts"].split(",")) <= {"alpha", "beta"}
    assert router.allowed_seen[-1] == ["alpha", "beta"]
    assert set(EXPERTS) > {"alpha", "beta"}


def test_route_endpoint_refuses_an_unknown_category(gateway):
    response = gateway.post("/v1/route", json={"prompt": "hi", "orchestrator": {"category": "astrology"}})
    assert response.status_code == 400 and response.json()["error"]["param"] == "orchestrator.category"
