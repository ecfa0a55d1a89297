"""ExpertClient against real simulator processes on loopback (and, marked ``vllm``, real vLLM)."""

from __future__ import annotations

import asyncio
import json
import os
import time

import httpx
import pytest

from orchestrator.config import Config
from orchestrator.errors import ExpertTimeout, ExpertUnavailable
from orchestrator.experts import BreakerOpen, ExpertClient, ResiliencePolicy
from services.expert_sim.launcher import SimProcess, SimSpec

pytestmark = pytest.mark.anyio
MSG = [{"role": "user", "content": "What is the capital of France?"}]


def config_for(*sims: SimProcess, **fields) -> Config:
    experts = [
        {
            "name": f"e{i}",
            "model": f"hosted_vllm/{s.served_model_name}",
            "api_base": s.api_base,
            "roles": ["expert", "aggregator"],
            "price": {"input_per_mtok": 0.1, "output_per_mtok": 0.3},
            **fields,
        }
        for i, s in enumerate(sims)
    ]
    return Config.model_validate({"experts": experts})


@pytest.mark.integration
@pytest.mark.parametrize("transport", ["httpx", "litellm"])
async def test_client_answers_with_usage_and_cost_over_each_transport(sim_factory, transport: str) -> None:
    sim = sim_factory("client-plain")
    async with ExpertClient(config_for(sim), transport=transport) as client:
        c = await client.complete("e0", MSG, {"max_tokens": 12, "temperature": 0})
        deltas = [d async for d in client.stream("e0", MSG, {"max_tokens": 12})]
    assert c.text and c.finish_reason in ("stop", "length")
    assert c.prompt_tokens > 0 and 0 < c.completion_tokens <= 12
    assert c.cost_usd == pytest.approx((c.prompt_tokens * 0.1 + c.completion_tokens * 0.3) / 1e6)
    assert "".join(deltas) == c.text, "streaming and non-streaming give the same deterministic answer"


@pytest.mark.integration
async def test_client_retries_injected_server_errors_and_dropped_connections(sim_factory) -> None:
    sim = sim_factory("client-faulty", error_rate=0.3, drop_rate=0.2, seed=3)
    policy = ResiliencePolicy(breaker_threshold=1000, backoff_base_s=0.001, backoff_max_s=0.01, seed=0)
    async with ExpertClient(config_for(sim, max_retries=8), policy=policy) as client:
        results = await asyncio.gather(*(client.complete("e0", MSG, {"max_tokens": 8}) for _ in range(30)))
    assert all(r.text for r in results)
    retried = [r for r in results if r.attempts > 1]
    assert retried and all(any(e.kind == "retry" for e in r.events) for r in retried)


@pytest.mark.integration
async def test_client_times_out_a_stalled_expert_and_falls_back_to_the_next(sim_factory) -> None:
    stalled = sim_factory("client-stalled", stall_rate=1.0, stall_s=2)
    healthy = sim_factory("client-plain")
    async with ExpertClient(config_for(stalled, healthy, timeout_s=0.3, max_retries=1), policy=ResiliencePolicy(backoff_max_s=0.01)) as client:
        started = time.monotonic()
        with pytest.raises(ExpertTimeout):
            await client.complete("e0", MSG)
        c = await client.complete_with_fallback(["e0", "e1"], MSG, {"max_tokens": 8})
    assert time.monotonic() - started < 3.0
    assert c.expert == "e1" and c.text
    assert [e.kind for e in c.events] == ["timeout", "retry", "timeout", "error", "fallback"]


@pytest.mark.integration
async def test_client_breaker_opens_on_a_dead_endpoint_and_closes_when_it_returns(sim_factory) -> None:
    sim = sim_factory("client-revived", fresh=True)
    port = sim.port
    sim.stop()
    policy = ResiliencePolicy(breaker_threshold=3, breaker_cooldown_s=0.3)
    async with ExpertClient(config_for(sim, max_retries=0), policy=policy) as client:
        for _ in range(3):
            with pytest.raises(ExpertUnavailable):
                await client.complete("e0", MSG)
        with pytest.raises(BreakerOpen):
            await client.complete("e0", MSG)
        revived = SimProcess(SimSpec("client-revived", port=port)).start().wait_healthy()
        try:
            await asyncio.sleep(0.35)
            c = await client.complete("e0", MSG, {"max_tokens": 4})
            assert c.text and client.breaker("e0").state.value == "closed"
        finally:
            revived.stop()


@pytest.mark.vllm
@pytest.mark.parametrize("transport", ["httpx", "litellm"])
async def test_client_against_real_vllm(transport: str) -> None:
    base, model = os.environ.get("VLLM_BASE_URL"), os.environ.get("VLLM_MODEL")
    if not base or not model:
        pytest.skip("set VLLM_BASE_URL and VLLM_MODEL (tests/vllm_cpu/run.sh does)")
    api_base = base.rstrip("/")
    api_base = api_base if api_base.endswith("/v1") else api_base + "/v1"
    config = Config.model_validate(
        {"experts": [{"name": "real", "model": f"hosted_vllm/{model}", "api_base": api_base, "roles": ["expert", "aggregator"]}]}
    )
    async with ExpertClient(config, transport=transport) as client:
        c = await client.complete("real", MSG, {"max_tokens": 8, "temperature": 0})
        deltas = [d async for d in client.stream("real", MSG, {"max_tokens": 8, "temperature": 0})]
        results = await asyncio.gather(*(client.complete("real", MSG, {"max_tokens": 4}) for _ in range(8)))
    assert c.prompt_tokens > 0 and 0 < c.completion_tokens <= 8
    assert deltas, "the stream carried content"
    assert all(r.completion_tokens > 0 for r in results)


def sim_usage_chunk(sim: SimProcess, params: dict) -> dict:
    """The usage chunk the simulator itself sends for this request (what vLLM would send)."""
    body = {"model": sim.served_model_name, "messages": MSG, "stream": True, "stream_options": {"include_usage": True}, **params}
    with httpx.stream("POST", f"{sim.api_base}/chat/completions", json=body, timeout=10) as r:
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:") and line[5:].strip() != "[DONE]"]
    (usage_chunk,) = [e for e in events if e.get("usage")]
    assert usage_chunk["choices"] == [], "vLLM sends usage on its own choiceless chunk"
    return usage_chunk["usage"]


@pytest.mark.integration
@pytest.mark.parametrize("transport", ["httpx", "litellm"])
async def test_client_stream_reports_the_servers_usage_cost_and_ttft(sim_factory, transport: str) -> None:
    sim = sim_factory("client-timed", time_scale=0.2)
    params = {"max_tokens": 12, "temperature": 0}
    async with ExpertClient(config_for(sim), transport=transport) as client:
        stream = client.stream_completion("e0", MSG, params)
        deltas = [d async for d in stream]
    expected = sim_usage_chunk(sim, params)
    assert stream.done and "".join(deltas) == stream.text
    assert stream.usage is not None
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens, stream.usage.total_tokens) == (
        expected["prompt_tokens"], expected["completion_tokens"], expected["total_tokens"],
    )
    assert stream.cost_usd == pytest.approx((expected["prompt_tokens"] * 0.1 + expected["completion_tokens"] * 0.3) / 1e6)
    assert stream.finish_reason in ("stop", "length")
    assert stream.ttft_s is not None and stream.latency_s is not None
    assert 0 < stream.ttft_s <= stream.latency_s
    c = stream.completion
    assert (c.prompt_tokens, c.completion_tokens, c.cost_usd, c.ttft_s) == (
        expected["prompt_tokens"], expected["completion_tokens"], stream.cost_usd, stream.ttft_s,
    )


@pytest.mark.integration
async def test_client_stream_closed_early_gives_its_concurrency_slot_back(sim_factory) -> None:
    sim = sim_factory("client-timed", time_scale=0.2)
    async with ExpertClient(config_for(sim, max_concurrency=1)) as client:
        stream = client.stream_completion("e0", MSG, {"max_tokens": 12})
        async for _ in stream:
            break
        await stream.aclose()
        later = client.stream_completion("e0", MSG, {"max_tokens": 6})
        text = await asyncio.wait_for(_drain(later), timeout=5)  # would hang if the slot had leaked
        assert client.breaker("e0").state.value == "closed"
    assert not stream.done and stream.usage is None and stream.cost_usd is None
    assert text and later.done and later.usage is not None


async def _drain(stream) -> str:
    return "".join([d async for d in stream])


async def _counting_proxy(upstream_port: int) -> tuple[asyncio.AbstractServer, list[int]]:
    """A loopback TCP relay in front of a server that counts the connections it accepts."""
    accepted: list[int] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        accepted.append(1)
        up_r, up_w = await asyncio.open_connection("127.0.0.1", upstream_port)
        await asyncio.gather(pipe(client_r, up_w), pipe(up_r, client_w))

    return await asyncio.start_server(handle, "127.0.0.1", 0), accepted


@pytest.mark.integration
async def test_consecutive_streams_to_an_expert_reuse_one_connection(sim_factory) -> None:
    sim = sim_factory("client-pooled")
    server, accepted = await _counting_proxy(sim.port)
    port = server.sockets[0].getsockname()[1]
    async with server:
        config = Config.model_validate({"experts": [{
            "name": "e0", "model": f"hosted_vllm/{sim.served_model_name}", "api_base": f"http://127.0.0.1:{port}/v1",
            "roles": ["expert", "aggregator"],
        }]})  # fmt: skip
        async with ExpertClient(config) as client:
            for i in range(5):
                deltas = [d async for d in client.stream("e0", [{"role": "user", "content": f"question {i}"}], {"max_tokens": 8})]
                assert deltas
    # Reading each stream to the end of its body returns the connection to the pool; leaving
    # after [DONE] closed it, and every stream paid a new connection (a TLS handshake, remotely).
    assert len(accepted) == 1
