"""ExpertClient over httpx.MockTransport: retries, timeouts, breaker, fallback, limits, streaming."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from experts.helpers import FakeClock, make_config

from orchestrator.errors import ExpertResponseError, ExpertTimeout, ExpertUnavailable, ModelNotFound
from orchestrator.experts import BreakerOpen, ExpertClient, ResiliencePolicy
from orchestrator.experts.transport_httpx import HttpxTransport
from orchestrator.experts.transport_litellm import LitellmTransport

pytestmark = pytest.mark.anyio


def completion_body(text: str = "42", prompt_tokens: int = 10, completion_tokens: int = 5) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
    }


def error_body(message: str, code: int) -> dict:
    return {"error": {"message": message, "type": "InternalServerError", "param": None, "code": code}}


class Recorder:
    """Records every request and answers with the next scripted response (the last one repeats)."""

    def __init__(self, *script: object, delay_s: float = 0.0):
        self.script = list(script) or [completion_body()]
        self.delay_s = delay_s
        self.requests: list[httpx.Request] = []
        self.running = 0
        self.max_running = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            step = self.script[min(len(self.requests) - 1, len(self.script) - 1)]
            if isinstance(step, Exception):
                raise step
            if isinstance(step, int):
                return httpx.Response(step, json=error_body(f"scripted {step}", step))
            return httpx.Response(200, json=step)
        finally:
            self.running -= 1


def client_for(handler, ports=(9001,), *, sleeps: list[float] | None = None, clock=None, policy=None, **fields) -> ExpertClient:
    async def fake_sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return ExpertClient(
        make_config(list(ports), **fields),
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        policy=policy or ResiliencePolicy(seed=0),
        sleep=fake_sleep,
        **({"clock": clock} if clock else {}),
    )


MESSAGES = [{"role": "user", "content": "What is 6 x 7?"}]


async def test_client_returns_text_usage_cost_and_latency() -> None:
    rec = Recorder(completion_body("42", prompt_tokens=1000, completion_tokens=500))
    async with client_for(rec) as client:
        c = await client.complete("e0", MESSAGES, {"max_tokens": 8, "temperature": 0})
    assert (c.expert, c.text, c.finish_reason, c.attempts) == ("e0", "42", "stop", 1)
    assert (c.prompt_tokens, c.completion_tokens) == (1000, 500)
    assert c.cost_usd == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    assert c.latency_s >= 0 and c.events == []
    sent = json.loads(rec.requests[0].content)
    assert rec.requests[0].url == "http://127.0.0.1:9001/v1/chat/completions"
    assert sent == {"model": "model-0", "messages": MESSAGES, "max_tokens": 8, "temperature": 0}


async def test_client_retries_retryable_errors_with_jittered_backoff() -> None:
    sleeps: list[float] = []
    rec = Recorder(503, 500, completion_body("ok"))
    async with client_for(rec, sleeps=sleeps, max_retries=2) as client:
        c = await client.complete("e0", MESSAGES)
    assert c.text == "ok" and c.attempts == 3
    assert [e.kind for e in c.events] == ["retry", "retry"]
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2


async def test_client_gives_up_after_max_retries_with_the_trace_on_the_error() -> None:
    rec = Recorder(503)
    async with client_for(rec, max_retries=1) as client:
        with pytest.raises(ExpertResponseError) as info:
            await client.complete("e0", MESSAGES)
    assert info.value.status_code == 503 and len(rec.requests) == 2
    assert [e.kind for e in info.value.events] == ["retry", "error"]


async def test_client_does_not_retry_client_errors() -> None:
    rec = Recorder(400, completion_body())
    async with client_for(rec, max_retries=3) as client:
        with pytest.raises(ExpertResponseError) as info:
            await client.complete("e0", MESSAGES)
    assert info.value.status_code == 400 and not info.value.retryable
    assert "scripted 400" in str(info.value)
    assert len(rec.requests) == 1


async def test_client_raises_timeout_when_expert_is_slower_than_timeout_s() -> None:
    rec = Recorder(completion_body(), delay_s=5.0)
    async with client_for(rec, timeout_s=0.05, max_retries=0) as client:
        with pytest.raises(ExpertTimeout) as info:
            await client.complete("e0", MESSAGES)
    assert "0.05 s" in str(info.value)
    assert [e.kind for e in info.value.events] == ["timeout", "error"]


async def test_client_translates_connection_failures_into_expert_unavailable() -> None:
    rec = Recorder(httpx.ConnectError("connection refused"))
    async with client_for(rec, max_retries=0) as client:
        with pytest.raises(ExpertUnavailable) as info:
            await client.complete("e0", MESSAGES)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert info.value.expert == "e0"


async def test_client_reports_malformed_responses_as_bad_gateway() -> None:
    rec = Recorder({"choices": []})
    async with client_for(rec, max_retries=0) as client:
        with pytest.raises(ExpertResponseError) as info:
            await client.complete("e0", MESSAGES)
    assert info.value.status_code == 502


async def test_client_opens_breaker_and_stops_calling_the_endpoint() -> None:
    clock = FakeClock()
    rec = Recorder(500)
    policy = ResiliencePolicy(breaker_threshold=3, breaker_cooldown_s=30, seed=0)
    async with client_for(rec, clock=clock, policy=policy, max_retries=0) as client:
        for _ in range(3):
            with pytest.raises(ExpertResponseError):
                await client.complete("e0", MESSAGES)
        with pytest.raises(BreakerOpen) as info:
            await client.complete("e0", MESSAGES)
    assert len(rec.requests) == 3, "an open breaker refuses without a connection attempt"
    assert "breaker_open" in [e.kind for e in info.value.events]


async def test_client_breaker_probes_after_cooldown_and_closes_on_success() -> None:
    clock = FakeClock()
    rec = Recorder(500, 500, completion_body("back"))
    policy = ResiliencePolicy(breaker_threshold=2, breaker_cooldown_s=30, seed=0)
    async with client_for(rec, clock=clock, policy=policy, max_retries=0) as client:
        for _ in range(2):
            with pytest.raises(ExpertResponseError):
                await client.complete("e0", MESSAGES)
        clock.advance(31)
        c = await client.complete("e0", MESSAGES)
        assert c.text == "back"
        assert client.breaker("e0").state.value == "closed"


async def test_client_falls_back_to_the_next_ranked_expert() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.port == 9001:
            return httpx.Response(503, json=error_body("overloaded", 503))
        return httpx.Response(200, json=completion_body("from e1"))

    async with client_for(handler, ports=(9001, 9002), max_retries=1) as client:
        c = await client.complete_with_fallback(["e0", "e1"], MESSAGES)
    assert c.expert == "e1" and c.text == "from e1"
    assert [e.kind for e in c.events] == ["retry", "error", "fallback"]
    assert c.attempts == 3


async def test_client_fallback_raises_the_last_error_when_every_candidate_fails() -> None:
    rec = Recorder(503)
    async with client_for(rec, ports=(9001, 9002), max_retries=0) as client:
        with pytest.raises(ExpertResponseError) as info:
            await client.complete_with_fallback(["e0", "e1"], MESSAGES)
    assert info.value.expert == "e1"
    assert [e.kind for e in info.value.events] == ["error", "fallback", "error"]


async def test_client_limits_requests_in_flight_per_expert() -> None:
    rec = Recorder(completion_body(), delay_s=0.02)
    async with client_for(rec, max_concurrency=3) as client:
        await asyncio.gather(*(client.complete("e0", MESSAGES) for _ in range(12)))
    assert rec.max_running == 3


async def test_client_streams_content_deltas_in_order() -> None:
    chunks = ["Hel", "lo", " world"]
    body = "".join(
        f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': c}, 'finish_reason': None}]})}\n\n" for c in chunks
    ) + "data: [DONE]\n\n"

    async def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["stream"] is True
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    async with client_for(handler) as client:
        got = [d async for d in client.stream("e0", MESSAGES)]
    assert got == chunks


async def test_client_stream_retries_a_failure_before_the_first_delta() -> None:
    body = f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': 'ok'}}]})}\n\ndata: [DONE]\n\n"
    calls = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(503, json=error_body("warming up", 503))
        return httpx.Response(200, text=body)

    async with client_for(handler, max_retries=1) as client:
        assert [d async for d in client.stream("e0", MESSAGES)] == ["ok"]
    assert len(calls) == 2


async def test_client_unknown_expert_raises_model_not_found() -> None:
    async with client_for(Recorder()) as client:
        with pytest.raises(ModelNotFound):
            await client.complete("nobody", MESSAGES)


def test_client_auto_transport_is_httpx_for_vllm_and_litellm_otherwise() -> None:
    vllm = ExpertClient(make_config([9001]))
    other = ExpertClient(make_config([9001], provider="openai"))
    forced = ExpertClient(make_config([9001]), transport="litellm")
    assert isinstance(vllm.transport_for(vllm.expert("e0")), HttpxTransport)
    assert isinstance(other.transport_for(other.expert("e0")), LitellmTransport)
    assert isinstance(forced.transport_for(forced.expert("e0")), LitellmTransport)


def test_client_rejects_an_unknown_transport_name() -> None:
    with pytest.raises(ValueError, match="transport must be"):
        ExpertClient(make_config([9001]), transport="grpc")  # type: ignore[arg-type]


def sse(*chunks: dict) -> str:
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


def content_chunk(text: str, finish_reason: str | None = None) -> dict:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish_reason}]}


async def test_client_stream_asks_for_usage_and_reports_it_with_cost() -> None:
    usage = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    body = sse(content_chunk("4"), content_chunk("2", "length"), {"choices": [], "usage": usage})
    requests = []

    async def handler(request: httpx.Request) -> httpx.Response:
        requests.append(json.loads(request.content))
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    async with client_for(handler) as client:
        stream = client.stream_completion("e0", MESSAGES)
        assert [d async for d in stream] == ["4", "2"]
    assert requests[0]["stream_options"] == {"include_usage": True}
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (12, 3)
    assert stream.cost_usd == pytest.approx((12 * 1.0 + 3 * 2.0) / 1e6)
    assert stream.finish_reason == "length" and stream.text == "42" and stream.attempts == 1


async def test_client_stream_leaves_usage_and_cost_unknown_when_the_server_sends_no_usage() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=sse(content_chunk("hi", "stop")))

    async with client_for(handler) as client:
        stream = client.stream_completion("e0", MESSAGES)
        assert [d async for d in stream] == ["hi"]
    assert stream.done and stream.usage is None and stream.cost_usd is None
    assert stream.completion.completion_tokens == 0 and stream.completion.cost_usd == 0.0


async def test_client_stream_counts_attempts_and_traces_the_retry_before_the_first_delta() -> None:
    calls = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(503, json=error_body("warming up", 503))
        return httpx.Response(200, text=sse(content_chunk("ok", "stop"), {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}))

    async with client_for(handler, max_retries=1) as client:
        stream = client.stream_completion("e0", MESSAGES)
        assert [d async for d in stream] == ["ok"]
    assert stream.attempts == 2 and [e.kind for e in stream.events] == ["retry"]
    assert stream.usage.total_tokens == 6


async def test_client_stream_ttft_is_measured_to_the_first_content_delta_not_the_role_chunk() -> None:
    clock = FakeClock()
    role = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}

    class TickingStream(httpx.AsyncByteStream):
        async def __aiter__(self):
            for chunk, seconds in ((role, 0.25), (content_chunk("a"), 0.5), (content_chunk("b", "stop"), 1.0)):
                clock.advance(seconds)
                yield f"data: {json.dumps(chunk)}\n\n".encode()
            yield b"data: [DONE]\n\n"

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=TickingStream())

    async with client_for(handler, clock=clock) as client:
        stream = client.stream_completion("e0", MESSAGES)
        assert [d async for d in stream] == ["a", "b"]
    assert stream.ttft_s == pytest.approx(0.75) and stream.latency_s == pytest.approx(1.75)


async def test_client_stream_completion_is_unavailable_until_the_stream_ends() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=sse(content_chunk("a"), content_chunk("b", "stop")))

    async with client_for(handler) as client:
        stream = client.stream_completion("e0", MESSAGES)
        assert await stream.__anext__() == "a"
        with pytest.raises(RuntimeError, match="has not finished"):
            stream.completion
        await stream.aclose()
