"""Routed streams send tokens as they are generated: one expert's, or the aggregator's synthesis.

Real simulator processes that pace their stream (``slow_stream_ms``) behind the gateway on
loopback, read with the official ``openai`` client and raw httpx.
"""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
import yaml

from orchestrator.config import parse_config
from services.gateway import create_app
from services.gateway.server import ThreadedServer

from .fakes import RankedRouter

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

ASK = [{"role": "user", "content": "What is 6 * 7?"}]
PACE_MS = 40
TOKENS = 12


@pytest.fixture(scope="module")
def live(sim_factory):
    experts = []
    for name in ("alpha", "beta", "gamma", "delta"):
        # delta drops its connection after two streamed tokens: a pod dying mid-answer.
        options = {"drop_rate": 1.0} if name == "delta" else {"slow_stream_ms": PACE_MS}
        base = sim_factory(f"org/paced-{name}", **options).api_base
        experts.append({"name": name, "model": f"hosted_vllm/org/paced-{name}", "api_base": base, "roles": ["expert", "aggregator"], "max_retries": 0, "timeout_s": 20})
    config = parse_config(yaml.safe_dump({"version": 1, "experts": experts, "scheduler": {"max_wait_ms": 1}}))
    with ThreadedServer(create_app(config, router=RankedRouter())) as server:
        yield server


@pytest.fixture
def oai(live) -> openai.OpenAI:
    with openai.OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0, timeout=30) as client:
        yield client


def _timed_stream(oai: openai.OpenAI, **kwargs) -> tuple[float, float, list]:
    started = time.perf_counter()
    first = None
    chunks = []
    for chunk in oai.chat.completions.create(messages=ASK, max_tokens=TOKENS, stream=True, **kwargs):
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - started
        chunks.append(chunk)
    assert first is not None
    return first, time.perf_counter() - started, chunks


def test_routed_single_expert_stream_sends_tokens_as_the_expert_generates_them(oai) -> None:
    first, total, chunks = _timed_stream(oai, model="router/auto", extra_body={"orchestrator": {"k": 1, "trace": True}})
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) >= TOKENS // 2, "one chunk per generated token, not one block at the end"
    # The expert paces its tokens PACE_MS apart: most of that pacing must come after the first
    # token reached the client (a buffered answer would arrive all at once, at the end).
    assert total - first >= 0.5 * (TOKENS - 1) * PACE_MS / 1000, f"first token after {first:.3f} s of a {total:.3f} s stream"
    trace = chunks[-1].model_extra.get("trace") or next(c.model_extra["trace"] for c in chunks if c.model_extra.get("trace"))
    respond = next(e for e in trace["events"] if e["step"] == "respond")
    assert respond["decision"]["stream"] == "expert tokens as generated"


def test_routed_direct_and_single_expert_streams_start_alike(oai) -> None:
    direct, _, _ = _timed_stream(oai, model="alpha")
    routed, _, _ = _timed_stream(oai, model="router/auto", extra_body={"orchestrator": {"k": 1}})
    assert routed < direct + 0.25, f"routed TTFT {routed:.3f} s vs direct {direct:.3f} s"


def test_synthesis_streams_the_aggregators_tokens(oai) -> None:
    opts = {"k": 2, "aggregation": "synthesis", "trace": True}
    first, total, chunks = _timed_stream(oai, model="router/auto", extra_body={"orchestrator": opts})
    trace = next(c.model_extra["trace"] for c in chunks if c.model_extra.get("trace"))
    respond = next(e for e in trace["events"] if e["step"] == "respond")
    assert respond["decision"] == {"mode": "synthesis", "experts": ["alpha", "beta"], "degraded": False, "stream": "aggregator tokens as generated"}
    # The experts answer first (both paced), then the aggregator's own tokens flow.
    assert total - first > (TOKENS / 2) * PACE_MS / 1000


def test_an_ensemble_answer_without_synthesis_waits_for_every_candidate_and_says_so(oai) -> None:
    # "best" (like vote and consensus) picks among finished candidates: nothing to stream early.
    _, _, chunks = _timed_stream(oai, model="router/auto", extra_body={"orchestrator": {"k": 2, "aggregation": "best", "trace": True}})
    trace = next(c.model_extra["trace"] for c in chunks if c.model_extra.get("trace"))
    respond = next(e for e in trace["events"] if e["step"] == "respond")
    assert respond["decision"]["stream"].startswith("buffered until")


def test_routed_stream_failing_mid_answer_ends_with_an_error_event_and_done(live) -> None:
    body = {"model": "router/auto", "messages": ASK, "max_tokens": TOKENS, "stream": True, "orchestrator": {"k": 1, "experts": ["delta"]}}
    with httpx.stream("POST", f"{live.url}/v1/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    payloads = [line.removeprefix("data: ") for line in lines]
    assert payloads[-1] == "[DONE]"
    error = json.loads(payloads[-2])["error"]
    assert error["code"] in (502, 503) and "delta" in error["message"]
    assert any(json.loads(p).get("choices", [{}])[0].get("delta", {}).get("content") for p in payloads[:-2])
