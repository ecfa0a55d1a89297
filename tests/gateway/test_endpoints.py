def test_models_lists_auto_categories_and_experts(gateway):
    r = gateway.get("/v1/models")
    assert r.status_code == 200
    ids = [m["id"] for m in r.json()["data"]]
    assert ids == ["router/auto", "router/math", "router/writing", "alpha", "beta", "gamma", "delta"]
    assert gateway.get("/v1/models/router/math").json()["id"] == "router/math"
    assert gateway.get("/v1/models/nobody").status_code == 404


def test_route_returns_decision_without_calling_experts(gateway, fake_vllm):
    r = gateway.post("/v1/route", json={"prompt": "What is 2+2?", "orchestrator": {"k": 2, "experts": ["beta", "gamma", "delta"]}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"]["chosen"] == ["beta", "gamma"]
    assert body["decision"]["category"] == "math"
    assert body["aggregation"] == "auto"
    # Excluded experts rank last with a null score (JSON has no -Infinity).
    assert body["decision"]["experts"][-1] == {"name": "alpha", "score": None, "predicted_quality": 0.1, "est_cost": 1e-05}
    assert fake_vllm.requests == []


def test_route_accepts_messages_and_category_alias(gateway):
    r = gateway.post("/v1/route", json={"model": "router/writing", "messages": [{"role": "user", "content": "hello"}]})
    assert r.status_code == 200, r.text
    assert r.json()["aggregation"] == "synthesis"


def test_route_needs_exactly_one_input(gateway):
    r = gateway.post("/v1/route", json={})
    assert r.status_code == 400
    assert "exactly one" in r.json()["error"]["message"]


def test_health_is_ok(gateway):
    assert gateway.get("/health").json() == {"status": "ok"}


def test_ready_is_503_when_experts_are_unreachable(gateway):
    # The mocked experts are not on the network, so the real readiness probe cannot reach them.
    r = gateway.get("/ready")
    assert r.status_code == 503
    body = r.json()
    assert body["router"] == "loaded"
    assert set(body["experts"]) == {"alpha", "beta", "gamma", "delta"}
    assert all(state.startswith("unreachable") for state in body["experts"].values())


def test_metrics_count_requests_experts_tokens_and_aggregation(gateway):
    gateway.post("/v1/chat/completions", json={"model": "router/auto", "messages": [{"role": "user", "content": "1+1?"}]})
    gateway.post("/v1/chat/completions", json={"model": "nobody", "messages": [{"role": "user", "content": "1+1?"}]})
    text = gateway.get("/metrics").text
    assert 'orchestrator_requests_total{route="/v1/chat/completions",status="200"} 1.0' in text
    assert 'orchestrator_requests_total{route="/v1/chat/completions",status="404"} 1.0' in text
    assert 'orchestrator_expert_calls_total{expert="alpha",outcome="ok"} 1.0' in text
    assert 'orchestrator_tokens_total{direction="prompt",expert="beta"} 10.0' in text
    assert "orchestrator_routing_seconds_count 1.0" in text
    assert 'orchestrator_aggregations_total{mode="vote"} 1.0' in text
    assert 'orchestrator_errors_total{type="ModelNotFound"} 1.0' in text
    assert "orchestrator_scheduler_batches" in text
    assert "orchestrator_scheduler_wait_p99_s" in text


def test_openapi_schema_is_served(gateway):
    schema = gateway.get("/openapi.json").json()
    assert "/v1/chat/completions" in schema["paths"]
    assert "orchestrator" in schema["components"]["schemas"]["GatewayChatRequest"]["properties"]
