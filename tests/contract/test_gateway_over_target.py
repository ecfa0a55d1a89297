"""The gateway in front of each target (the simulator; real vLLM with ``-m vllm``, run by
``make test-vllm``): the official SDK's ``.stream()`` helper, tools, logprobs and a request
without ``max_tokens`` go THROUGH the gateway. A random-weight model writes arbitrary text, so
the assertions are on what is deterministic: acceptance, shapes, names, counts."""

from __future__ import annotations

import httpx
import openai
import pytest
import yaml
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from orchestrator.config import parse_config
from services.gateway import create_app
from services.gateway.server import ThreadedServer
from gateway.fakes import RankedRouter

from .conftest import SIM_MAX_MODEL_LEN, Target
from .wire import TIMEOUT, stream_chunks

pytestmark = pytest.mark.integration

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}
FORCE_WEATHER = {"type": "function", "function": {"name": "get_weather"}}
ASK = [{"role": "user", "content": "Say hi."}]


@pytest.fixture(scope="module")
def gateway_url(target: Target):
    expert = {
        "name": "alpha", "model": f"hosted_vllm/{target.model}", "api_base": target.api_base, "roles": ["expert", "aggregator"],
        "max_retries": 0, "timeout_s": 120, "tool_calling": True, "vllm": {"max_model_len": SIM_MAX_MODEL_LEN},
    }  # fmt: skip
    config = parse_config(yaml.safe_dump({"version": 1, "experts": [expert], "scheduler": {"max_wait_ms": 1}}))
    with ThreadedServer(create_app(config, router=RankedRouter(k=1))) as server:
        yield server.url


@pytest.fixture
def oai(gateway_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway_url}/v1", api_key="unused", max_retries=0, timeout=120)


@pytest.mark.parametrize("model", ["alpha", "router/auto"])
def test_stream_helper_through_the_gateway(oai: openai.OpenAI, model: str) -> None:
    with oai.chat.completions.stream(model=model, messages=ASK, max_tokens=4) as stream:
        kinds = [event.type for event in stream]
    assert kinds.count("chunk") >= 2 and "content.delta" in kinds


def test_stream_chunks_through_the_gateway_validate(gateway_url: str) -> None:
    body = {"model": "alpha", "messages": ASK, "max_tokens": 4, "stream": True, "stream_options": {"include_usage": True}}
    chunks, done = stream_chunks(f"{gateway_url}/v1/chat/completions", body)
    assert done == "[DONE]"
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    assert chunks[-1]["usage"]["completion_tokens"] >= 1


@pytest.mark.parametrize("model", ["alpha", "router/auto"])
def test_forced_tool_call_through_the_gateway(oai: openai.OpenAI, model: str) -> None:
    raw = oai.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "Weather in Paris?"}], max_tokens=24, tools=[WEATHER], tool_choice=FORCE_WEATHER
    )
    completion = ChatCompletion.model_validate(raw.parse().model_dump())
    assert completion.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert raw.headers["x-orchestrator-experts"] == "alpha"


def test_streamed_tool_call_through_the_gateway(gateway_url: str) -> None:
    body = {"model": "alpha", "messages": [{"role": "user", "content": "Weather?"}], "max_tokens": 24, "tools": [WEATHER], "tool_choice": FORCE_WEATHER, "stream": True}
    chunks, _ = stream_chunks(f"{gateway_url}/v1/chat/completions", body)
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    names = [tc["function"]["name"] for c in chunks for ch in c["choices"] for tc in ch["delta"].get("tool_calls") or [] if tc.get("function", {}).get("name")]
    assert names == ["get_weather"]


def test_logprobs_through_the_gateway(oai: openai.OpenAI) -> None:
    out = oai.chat.completions.create(model="alpha", messages=ASK, max_tokens=3, logprobs=True, top_logprobs=2, extra_body={"ignore_eos": True})
    assert len(out.choices[0].logprobs.content) == 3
    assert all(len(t.top_logprobs) == 2 for t in out.choices[0].logprobs.content)
    chunks = list(oai.chat.completions.create(model="alpha", messages=ASK, max_tokens=3, logprobs=True, top_logprobs=1, stream=True, extra_body={"ignore_eos": True}))
    assert sum(len(c.choices[0].logprobs.content) for c in chunks if c.choices and c.choices[0].logprobs) == 3


def test_request_without_max_tokens_through_the_gateway(oai: openai.OpenAI) -> None:
    out = oai.chat.completions.create(model="alpha", messages=ASK)
    assert out.choices[0].finish_reason in ("stop", "length")
    assert 1 <= out.usage.completion_tokens <= SIM_MAX_MODEL_LEN - out.usage.prompt_tokens


def test_an_experts_400_comes_back_with_status_and_without_its_address(gateway_url: str, target: Target) -> None:
    r = httpx.post(f"{gateway_url}/v1/chat/completions", json={"model": "alpha", "messages": ASK, "max_tokens": 100_000}, timeout=TIMEOUT)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert "alpha" in error["message"] and target.url not in r.text
    assert error["param"] in ("max_tokens", "input_tokens", None)
