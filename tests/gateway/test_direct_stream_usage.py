"""A direct pass-through stream reports the expert's own usage, not an estimate: in its final
usage chunk, in the trace on its finish chunk, and in the Prometheus token and cost counters.
Real loopback HTTP in front of a real simulator process."""

from __future__ import annotations

import json

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.config import parse_config
from services.gateway import create_app
from services.gateway.server import ThreadedServer

from .fakes import RankedRouter

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ASK = [{"role": "user", "content": "Name three prime numbers and explain why they are prime."}]
PARAMS = {"max_tokens": 24, "temperature": 0}
PRICE = {"input_per_mtok": 3.0, "output_per_mtok": 15.0}


def sse_events(url: str, body: dict, headers: dict | None = None) -> list[dict]:
    with httpx.stream("POST", url, json=body, headers=headers or {}, timeout=20) as r:
        assert r.status_code == 200, r.read()
        lines = [line[5:].strip() for line in r.iter_lines() if line.startswith("data:")]
    assert lines[-1] == "[DONE]"
    return [json.loads(data) for data in lines[:-1]]


def usage_chunk(events: list[dict]) -> dict:
    (chunk,) = [e for e in events if e.get("usage")]
    assert chunk is events[-1] and chunk["choices"] == []
    return chunk["usage"]


@pytest.fixture(scope="module")
def expert_sim(sim_factory):
    return sim_factory("org/usage", time_scale=0.1)


@pytest.fixture(scope="module")
def gateway(expert_sim):
    expert = {"name": "usage", "model": "hosted_vllm/org/usage", "api_base": expert_sim.api_base, "roles": ["expert", "aggregator"], "price": PRICE}
    config = parse_config(yaml.safe_dump({"version": 1, "experts": [expert], "gateway": {"rate_limit_rpm": 100000}}))
    with ThreadedServer(create_app(config, router=RankedRouter())) as server:
        yield server


@pytest.fixture(scope="module")
def expert_usage(expert_sim) -> dict:
    """What the simulator itself reports for the request, asked directly (as vLLM would)."""
    body = {"model": "org/usage", "messages": ASK, "stream": True, "stream_options": {"include_usage": True}, **PARAMS}
    return usage_chunk(sse_events(f"{expert_sim.api_base}/chat/completions", body))


def metric(url: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_direct_stream_final_usage_chunk_is_the_experts_own(gateway, expert_usage):
    body = {"model": "usage", "messages": ASK, "stream": True, "stream_options": {"include_usage": True}, **PARAMS}
    events = sse_events(f"{gateway.url}/v1/chat/completions", body)
    assert usage_chunk(events) == expert_usage
    finish = [e["choices"][0]["finish_reason"] for e in events if e["choices"] and e["choices"][0].get("finish_reason")]
    assert finish in (["stop"], ["length"])


def test_direct_stream_counts_real_tokens_and_cost_in_metrics_and_trace(gateway, expert_usage):
    before = {d: metric(gateway.url, "orchestrator_tokens_total", expert="usage", direction=d) for d in ("prompt", "completion")}
    cost_before = metric(gateway.url, "orchestrator_cost_usd_total", expert="usage")
    body = {"model": "usage", "messages": ASK, "stream": True, **PARAMS}
    events = sse_events(f"{gateway.url}/v1/chat/completions", body, headers={"x-orchestrator-trace": "1"})
    prompt, completion = expert_usage["prompt_tokens"], expert_usage["completion_tokens"]
    cost = (prompt * PRICE["input_per_mtok"] + completion * PRICE["output_per_mtok"]) / 1e6

    assert not any(e.get("usage") for e in events), "no usage chunk unless the client asks for one"
    (trace,) = [e["trace"] for e in events if "trace" in e]
    (call,) = trace["events"]
    assert (call["step"], call["expert"]) == ("expert", "usage")
    assert (trace["prompt_tokens"], trace["completion_tokens"]) == (prompt, completion)
    assert trace["cost_usd"] == pytest.approx(cost)
    assert 0 < call["decision"]["ttft_ms"] <= call["duration_ms"]

    assert metric(gateway.url, "orchestrator_tokens_total", expert="usage", direction="prompt") - before["prompt"] == prompt
    assert metric(gateway.url, "orchestrator_tokens_total", expert="usage", direction="completion") - before["completion"] == completion
    assert metric(gateway.url, "orchestrator_cost_usd_total", expert="usage") - cost_before == pytest.approx(cost)


def test_direct_completion_trace_reports_usage_and_cost_like_its_header(gateway, expert_usage):
    r = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "usage", "messages": ASK, **PARAMS},
        headers={"x-orchestrator-trace": "1"},
        timeout=20,
    )
    assert r.status_code == 200, r.text
    trace = r.json()["trace"]
    assert r.json()["usage"]["completion_tokens"] == trace["completion_tokens"] == expert_usage["completion_tokens"]
    assert trace["cost_usd"] == pytest.approx(float(r.headers["x-orchestrator-cost-usd"]))
    assert "ttft_ms" not in trace["events"][0]["decision"], "a non-streamed call has no honest time to first token"
