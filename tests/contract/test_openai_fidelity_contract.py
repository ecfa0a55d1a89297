"""OpenAI fidelity on each target (simulator, and real vLLM with ``-m vllm``): stream chunks that
OpenAI's own types accept, the ``.stream()`` helper, tools, logprobs in vLLM's shape, and the
sampling parameters vLLM rejects."""

from __future__ import annotations

import json

import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from .conftest import Target
from .wire import chat_body, post, stream_chunks

pytestmark = pytest.mark.integration

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}
FORCE_WEATHER = {"type": "function", "function": {"name": "get_weather"}}


@pytest.fixture
def client(target: Target) -> openai.OpenAI:
    return openai.OpenAI(base_url=target.api_base, api_key="unused", max_retries=0, timeout=60)


def test_stream_chunks_validate_against_openai_types(target: Target) -> None:
    chunks, done = stream_chunks(f"{target.api_base}/chat/completions", chat_body(target.model, stream=True, stream_options={"include_usage": True}))
    assert done == "[DONE]"
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
        assert all(isinstance(choice["index"], int) for choice in chunk["choices"])


def test_stream_helper_accepts_every_chunk(client: openai.OpenAI, target: Target) -> None:
    with client.chat.completions.stream(model=target.model, messages=[{"role": "user", "content": "Hi"}], max_tokens=4) as stream:
        kinds = [event.type for event in stream]
    assert kinds.count("chunk") >= 2 and "content.delta" in kinds


def test_logprobs_in_openai_shape(target: Target) -> None:
    r = post(f"{target.api_base}/chat/completions", chat_body(target.model, max_tokens=3, ignore_eos=True, logprobs=True, top_logprobs=2))
    assert r.status_code == 200, r.text
    ChatCompletion.model_validate(r.json())
    content = r.json()["choices"][0]["logprobs"]["content"]
    assert len(content) == 3
    for entry in content:
        assert set(entry) >= {"token", "logprob", "bytes", "top_logprobs"} and entry["logprob"] <= 0
        assert len(entry["top_logprobs"]) == 2


def test_logprobs_streamed_per_chunk(target: Target) -> None:
    body = chat_body(target.model, max_tokens=3, ignore_eos=True, logprobs=True, top_logprobs=1, stream=True)
    chunks, _ = stream_chunks(f"{target.api_base}/chat/completions", body)
    entries = [e for c in chunks for ch in c["choices"] if ch.get("logprobs") for e in ch["logprobs"]["content"]]
    assert len(entries) == 3 and all(len(e["top_logprobs"]) == 1 for e in entries)


def test_named_tool_choice_returns_a_call_of_that_function(target: Target) -> None:
    body = chat_body(target.model, "Weather in Paris?", max_tokens=24, tools=[WEATHER], tool_choice=FORCE_WEATHER)
    r = post(f"{target.api_base}/chat/completions", body)
    assert r.status_code == 200, r.text
    completion = ChatCompletion.model_validate(r.json())
    call = completion.choices[0].message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather" and isinstance(call.function.arguments, str)


def test_named_tool_choice_streams_tool_call_deltas(target: Target) -> None:
    body = chat_body(target.model, "Weather in Paris?", max_tokens=24, tools=[WEATHER], tool_choice=FORCE_WEATHER, stream=True)
    chunks, _ = stream_chunks(f"{target.api_base}/chat/completions", body)
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    names = [tc["function"]["name"] for c in chunks for ch in c["choices"] for tc in ch["delta"].get("tool_calls") or [] if tc.get("function", {}).get("name")]
    assert names == ["get_weather"]


def test_tool_choice_none_answers_in_text(target: Target) -> None:
    r = post(f"{target.api_base}/chat/completions", chat_body(target.model, tools=[WEATHER], tool_choice="none"))
    assert r.status_code == 200, r.text
    message = r.json()["choices"][0]["message"]
    assert isinstance(message["content"], str) and not message.get("tool_calls")


@pytest.mark.parametrize(
    ("field", "value"),
    [("presence_penalty", 50), ("frequency_penalty", -3), ("repetition_penalty", 0), ("temperature", 99), ("top_k", -5), ("min_p", 2)],
)
def test_out_of_range_sampling_parameter_is_a_400(target: Target, field: str, value: float) -> None:
    r = post(f"{target.api_base}/chat/completions", chat_body(target.model, **{field: value}))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == 400 and error["type"] == "BadRequestError" and field in error["message"]


def test_too_many_top_logprobs_is_a_400(target: Target) -> None:
    r = post(f"{target.api_base}/chat/completions", chat_body(target.model, logprobs=True, top_logprobs=25))
    assert r.status_code == 400, r.text
    assert "25" in r.json()["error"]["message"]


def test_tool_call_arguments_are_json_on_the_simulator(target: Target) -> None:
    if target.kind != "sim":
        pytest.skip("a random-weight model writes arbitrary arguments; only the shape is checked on vLLM")
    body = chat_body(target.model, "Weather in Paris?", max_tokens=64, tools=[WEATHER], tool_choice=FORCE_WEATHER)
    call = post(f"{target.api_base}/chat/completions", body).json()["choices"][0]["message"]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"])["city"]
