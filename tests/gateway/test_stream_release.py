"""A stream holds its expert's scheduler slot until its last chunk has gone out, and lets go of
it however the response ends: also when the client has left before the first byte, which makes
Starlette give up before it ever starts the event generator (uvicorn's ASGI 2.4 ``send`` raises
``OSError`` once the client is gone). Letting go closes the expert's stream, so the expert stops
generating for nobody. The experts here send one token and then nothing, for ever."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from starlette.requests import ClientDisconnect

from services.gateway.passthrough import Passthrough

from .fakes import FakeVllm

ASK = [{"role": "user", "content": "What is 6 x 7?"}]


class EndlessVllm(FakeVllm):
    """Streams one chunk, then holds the stream open until the gateway closes it."""

    def __init__(self):
        super().__init__({})
        self.closed = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if not body.get("stream"):
            return super().__call__(request)
        self.requests.append(body)
        return httpx.Response(200, stream=_EndlessStream(self), headers={"content-type": "text/event-stream"})


class _EndlessStream(httpx.AsyncByteStream):
    def __init__(self, fake: EndlessVllm):
        self.fake = fake

    async def __aiter__(self):
        yield b'data: {"choices": [{"index": 0, "delta": {"content": "Thinking"}, "text": "Thinking"}]}\n\n'
        await asyncio.Event().wait()

    async def aclose(self) -> None:
        self.fake.closed += 1  # the gateway hung up on the expert


@pytest.fixture
def fake_vllm() -> EndlessVllm:
    return EndlessVllm()


async def _client_gone_before_first_byte(app, path: str, body: dict) -> list[str]:
    """Drive one request through the ASGI app with a client that has already hung up."""
    sent: list[str] = []
    payload = json.dumps(body).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }  # fmt: skip
    messages = [{"type": "http.request", "body": payload, "more_body": False}]

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message["type"])
        if message["type"] == "http.response.start" and message["status"] == 200:
            raise OSError("client disconnected")  # what uvicorn's send does for a client that has left

    try:
        await app(scope, receive, send)
    except ClientDisconnect:
        pass  # Starlette's word for the OSError: the client is gone
    return sent


def _in_flight(gateway) -> dict:
    return gateway.app.state.gateway.require_scheduler().stats()["in_flight"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"model": "alpha", "messages": ASK, "stream": True}, id="direct chat stream"),
        pytest.param({"model": "router/auto", "messages": ASK, "stream": True, "orchestrator": {"k": 1}}, id="routed stream"),
    ],
)
def test_a_chat_stream_whose_client_left_before_the_first_byte_releases_its_slot(gateway, fake_vllm, body):
    sent = gateway.portal.call(_client_gone_before_first_byte, gateway.app, "/v1/chat/completions", body)
    assert sent == ["http.response.start"]  # the status line was the last thing tried
    assert _in_flight(gateway) == {}
    assert fake_vllm.closed == 1  # the expert's stream was closed, not left generating


def test_a_completions_relay_stream_whose_client_left_before_the_first_byte_releases_its_slot(gateway, fake_vllm):
    state = gateway.app.state.gateway
    state.passthrough = Passthrough(httpx.AsyncClient(transport=httpx.MockTransport(fake_vllm)))
    body = {"model": "alpha", "prompt": "6 x 7 =", "stream": True, "max_tokens": 4}
    sent = gateway.portal.call(_client_gone_before_first_byte, gateway.app, "/v1/completions", body)
    assert sent == ["http.response.start"]
    assert fake_vllm.requests[-1]["prompt"] == "6 x 7 ="  # the relay really reached the expert
    assert _in_flight(gateway) == {}
    assert fake_vllm.closed == 1
