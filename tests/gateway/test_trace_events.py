"""The trace is complete: queue waits, retries, breaker changes and fallbacks of a request
appear in its trace and headers, for routed requests and direct pass-through alike."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from orchestrator.config import parse_config
from orchestrator.experts.client import ExpertClient, ResiliencePolicy
from services.gateway import create_app

from .fakes import EXPERTS, FakeVllm, RankedRouter

ASK = [{"role": "user", "content": "What is 6 * 7?"}]


class FlakyVllm(FakeVllm):
    """Answers 503 to the first ``failures`` calls of each expert named in ``flaky``."""

    def __init__(self, flaky: dict[str, int]):
        super().__init__({e: "The answer is 42." for e in EXPERTS})
        self.flaky = dict(flaky)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        expert = request.url.host.removesuffix(".test")
        if self.flaky.get(expert, 0) > 0:
            self.flaky[expert] -= 1
            return httpx.Response(503, json={"error": {"message": "warming up", "code": 503}})
        return super().__call__(request)


def _gateway(vllm: FakeVllm, *, retries: int, breaker_threshold: int = 100) -> TestClient:
    experts = "\n".join(
        f"  - {{name: {n}, model: hosted_vllm/org/{n}, api_base: 'http://{n}.test/v1', roles: [expert, aggregator], max_retries: {retries}}}"
        for n in EXPERTS
    )
    config = parse_config(f"version: 1\nexperts:\n{experts}\nscheduler: {{max_wait_ms: 0}}\n")
    policy = ResiliencePolicy(breaker_threshold=breaker_threshold, backoff_base_s=0.001, backoff_max_s=0.002)
    client = ExpertClient(config, http_transport=httpx.MockTransport(vllm), policy=policy)
    return TestClient(create_app(config, router=RankedRouter(k=1), client=client), raise_server_exceptions=False)


def _events(trace: dict, expert: str) -> list[str]:
    return [e["kind"] for ev in trace["events"] if ev["step"] == "expert" and ev.get("expert") == expert for e in ev["decision"].get("events", [])]


def test_routed_request_reports_its_retries_in_trace_and_headers() -> None:
    with _gateway(FlakyVllm({"alpha": 1}), retries=2) as http:
        r = http.post("/v1/chat/completions", json={"model": "router/auto", "messages": ASK, "orchestrator": {"trace": True}})
    assert r.status_code == 200, r.text
    assert r.headers["x-orchestrator-retries"] == "1" and r.headers["x-orchestrator-fallbacks"] == "0"
    assert _events(r.json()["trace"], "alpha") == ["retry"]


def test_routed_request_reports_a_fallback_and_the_breaker_opening() -> None:
    with _gateway(FlakyVllm({"alpha": 5}), retries=0, breaker_threshold=1) as http:
        r = http.post("/v1/chat/completions", json={"model": "router/auto", "messages": ASK, "orchestrator": {"trace": True}})
    assert r.status_code == 200 and r.headers["x-orchestrator-experts"] == "beta"
    assert r.headers["x-orchestrator-fallbacks"] == "1" and r.headers["x-orchestrator-breaker-opens"] == "1"
    failed = next(ev for ev in r.json()["trace"]["events"] if ev["step"] == "expert" and ev["expert"] == "alpha")
    assert not failed["decision"]["ok"] and "breaker_open" in _events(r.json()["trace"], "alpha")


def test_direct_pass_through_reports_its_retries_and_queue_wait() -> None:
    with _gateway(FlakyVllm({"beta": 2}), retries=2) as http:
        r = http.post("/v1/chat/completions", json={"model": "beta", "messages": ASK}, headers={"x-orchestrator-trace": "1"})
    assert r.status_code == 200, r.text
    assert r.headers["x-orchestrator-retries"] == "2" and float(r.headers["x-orchestrator-queue-ms"]) >= 0
    assert _events(r.json()["trace"], "beta") == ["retry", "retry"]
