import json

import pytest

CHAT = {"model": "router/auto", "messages": [{"role": "user", "content": "What is 6 * 7?"}]}


def test_chat_completion_routes_to_k_experts_and_reports_headers(gateway, fake_vllm):
    r = gateway.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "router/auto"
    assert body["choices"][0]["message"]["content"] == "The answer is 42."
    assert {k: body["usage"][k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")} == {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}
    assert r.headers["x-orchestrator-category"] == "math"
    assert r.headers["x-orchestrator-experts"] == "alpha,beta,gamma"
    assert r.headers["x-orchestrator-aggregator"] == "none"  # majority vote: no aggregator call
    assert r.headers["x-orchestrator-aggregation"] == "vote"
    assert float(r.headers["x-orchestrator-cost-usd"]) == pytest.approx(3 * (10 * 1 + 4 * 2) / 1e6)
    assert len(r.headers["x-request-id"]) == 32
    assert "trace" not in body
    assert len(fake_vllm.requests) == 3


def test_chat_completion_returns_trace_when_header_asks(gateway):
    r = gateway.post("/v1/chat/completions", json=CHAT, headers={"x-orchestrator-trace": "1", "x-request-id": "req-7"})
    trace = r.json()["trace"]
    assert trace["request_id"] == "req-7"
    assert r.headers["x-request-id"] == "req-7"
    assert [e["step"] for e in trace["events"]][:3] == ["classify", "recruit", "expert"]
    assert trace["cost_usd"] == pytest.approx(float(r.headers["x-orchestrator-cost-usd"]))


def test_chat_completion_passes_orchestrator_options(gateway, fake_vllm):
    body = {**CHAT, "orchestrator": {"k": 1, "trace": True}, "max_tokens": 5, "temperature": 0.2}
    r = gateway.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    assert r.headers["x-orchestrator-experts"] == "alpha"
    assert r.json()["trace"]["events"][1]["decision"]["k"] == 1
    sent = fake_vllm.requests[0]
    assert (sent["max_tokens"], sent["temperature"], sent["model"]) == (5, 0.2, "org/alpha")


def test_category_alias_restricts_experts(gateway):
    r = gateway.post("/v1/chat/completions", json={**CHAT, "model": "router/math"})
    assert r.status_code == 200, r.text
    assert r.headers["x-orchestrator-experts"] == "beta,gamma"


def test_writing_prompt_is_synthesised_by_aggregator(gateway, fake_vllm):
    r = gateway.post("/v1/chat/completions", json={**CHAT, "messages": [{"role": "user", "content": "Write a poem"}]})
    assert r.status_code == 200, r.text
    assert r.headers["x-orchestrator-aggregation"] == "synthesis"
    assert r.headers["x-orchestrator-aggregator"] == "alpha"
    assert r.json()["usage"]["prompt_tokens"] == 40  # three experts + the aggregator
    assert "Several assistants" in fake_vllm.requests[-1]["messages"][0]["content"]


def test_expert_name_passes_through_to_that_expert(gateway, fake_vllm):
    r = gateway.post("/v1/chat/completions", json={**CHAT, "model": "gamma"})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "So: The answer is 41."
    assert r.headers["x-orchestrator-category"] == "direct"
    assert len(fake_vllm.requests) == 1


def _events(text: str) -> list:
    out = []
    for block in text.strip().split("\n\n"):
        assert block.startswith("data: ")
        data = block[len("data: ") :]
        out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_streaming_pipeline_answer_arrives_as_chunks_with_usage(gateway):
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    r = gateway.post("/v1/chat/completions", json=body)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["x-orchestrator-experts"] == "alpha,beta,gamma"
    events = _events(r.text)
    assert events[-1] == "[DONE]"
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1] if e["choices"])
    assert text == "The answer is 42."
    assert events[-3]["choices"][0]["finish_reason"] == "stop"
    assert events[-2]["usage"]["total_tokens"] == 42


def test_streaming_pass_through_relays_expert_deltas(gateway):
    r = gateway.post("/v1/chat/completions", json={**CHAT, "model": "gamma", "stream": True})
    events = _events(r.text)
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    assert text.strip() == "So: The answer is 41."
    assert events[-2]["choices"][0]["finish_reason"] == "stop"


def test_streaming_pass_through_estimates_usage_only_when_the_expert_reports_none(gateway):
    # FakeVllm's streams carry no usage chunk: 14 prompt chars / 4 -> 4 tokens, 5 deltas -> 5 tokens.
    body = {**CHAT, "model": "gamma", "stream": True, "stream_options": {"include_usage": True}}
    r = gateway.post("/v1/chat/completions", json=body, headers={"x-orchestrator-trace": "1"})
    events = _events(r.text)
    assert events[-1] == "[DONE]"
    assert events[-2]["usage"] == {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}
    assert events[-3]["trace"]["cost_usd"] == pytest.approx((4 * 1 + 5 * 2) / 1e6)


def test_degraded_answer_when_one_expert_is_down(make_gateway, fake_vllm):
    fake_vllm.down = {"beta"}
    r = make_gateway().post("/v1/chat/completions", json={**CHAT, "orchestrator": {"trace": True}})
    assert r.status_code == 200, r.text
    assert r.headers["x-orchestrator-experts"] == "alpha,gamma,delta"
    dispatch = next(e for e in r.json()["trace"]["events"] if e["step"] == "dispatch")
    assert dispatch["decision"]["degraded"] is True and dispatch["decision"]["failed"] == ["beta"]


def test_every_expert_down_is_503_with_openai_error(make_gateway, fake_vllm):
    fake_vllm.down = {"alpha", "beta", "gamma", "delta"}
    r = make_gateway().post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 503
    error = r.json()["error"]
    assert error["type"] == "ServiceUnavailableError" and error["code"] == 503
    assert "every routed expert failed" in error["message"]


def test_streaming_request_with_every_expert_down_fails_before_streaming(make_gateway, fake_vllm):
    fake_vllm.down = {"gamma"}
    r = make_gateway().post("/v1/chat/completions", json={**CHAT, "model": "gamma", "stream": True})
    assert r.status_code == 503
    assert r.json()["error"]["type"] == "ServiceUnavailableError"
