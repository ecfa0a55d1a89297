"""What real OpenAI clients send works through the gateway, in front of real simulator processes:
the official ``openai`` SDK (sync, async, the ``.stream()`` helper, ``responses.create``),
LangChain's ``ChatOpenAI`` with tools, and curl."""

from __future__ import annotations

import json
import socket
import subprocess

import httpx
import openai
import pytest
import yaml
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response as OpenAIResponse

from orchestrator.config import parse_config
from services.gateway import create_app
from services.gateway.server import ThreadedServer

from .fakes import RankedRouter

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ASK = [{"role": "user", "content": "What is 6 * 7?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]},
    },
}
FORCE_WEATHER = {"type": "function", "function": {"name": "get_weather"}}


def _dead_base() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


@pytest.fixture(scope="module")
def live(sim_factory):
    common = {"max_retries": 0, "timeout_s": 10, "roles": ["expert", "aggregator"]}
    experts = [
        # alpha: tool-capable, a 512-token context (as tests/vllm_cpu serves its model).
        {"name": "alpha", "model": "hosted_vllm/org/fid-alpha", "api_base": sim_factory("org/fid-alpha", max_model_len=512).api_base,
         "tool_calling": True, "vllm": {"max_model_len": 512}, "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}, **common},
        {"name": "beta", "model": "hosted_vllm/org/fid-beta", "api_base": sim_factory("org/fid-beta").api_base, **common},
        {"name": "delta", "model": "hosted_vllm/org/fid-delta", "api_base": _dead_base(), **common},
    ]  # fmt: skip
    data = {"version": 1, "experts": experts, "scheduler": {"max_wait_ms": 1}, "router": {"category_experts": {"math": ["alpha", "beta"]}}}
    config = parse_config(yaml.safe_dump(data))
    with ThreadedServer(create_app(config, router=RankedRouter(k=2))) as server:
        yield server


@pytest.fixture
def oai(live) -> openai.OpenAI:
    with openai.OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0, timeout=20) as client:
        yield client


def _sse_chunks(url: str, body: dict) -> list[dict]:
    with httpx.stream("POST", url, json=body, timeout=20) as response:
        assert response.status_code == 200
        lines = [line[5:].strip() for line in response.iter_lines() if line.startswith("data:")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


# ---------------------------------------------------------------- 1. stream chunks


@pytest.mark.parametrize("model", ["alpha", "router/auto"])
def test_stream_helper_assembles_the_answer(oai, model):
    # (The helper refuses a reply cut by max_tokens, so leave room for the whole answer.)
    with oai.chat.completions.stream(model=model, messages=ASK, max_tokens=200) as stream:
        kinds = {event.type for event in stream}
        final = stream.get_final_completion()
    assert "content.delta" in kinds and "content.done" in kinds
    assert final.choices[0].message.content and final.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("model", ["alpha", "router/auto"])
def test_every_stream_chunk_validates_against_openai_types(live, model):
    chunks = _sse_chunks(f"{live.url}/v1/chat/completions", {"model": model, "messages": ASK, "max_tokens": 16, "stream": True, "stream_options": {"include_usage": True}})
    for raw in chunks:
        ChatCompletionChunk.model_validate(raw, strict=False)
        assert all("index" in choice for choice in raw["choices"]), raw
    assert chunks[-1]["usage"]["total_tokens"] > 0


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_async_client_streams_and_completes(live, anyio_backend):
    async with openai.AsyncOpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0, timeout=20) as client:
        stream = await client.chat.completions.create(model="alpha", messages=ASK, max_tokens=8, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        done = await client.chat.completions.create(model="router/auto", messages=ASK, max_tokens=8)
    assert text and done.choices[0].message.content


# ---------------------------------------------------------------- 2. tools and logprobs


def test_forced_tool_call_passes_through_to_a_pinned_expert(oai):
    out = oai.chat.completions.create(model="alpha", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER], tool_choice=FORCE_WEATHER)
    call = out.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and "city" in json.loads(call.function.arguments)


def test_stream_helper_assembles_a_streamed_tool_call(oai):
    with oai.chat.completions.stream(
        model="alpha", messages=[{"role": "user", "content": "Please call get_weather for Paris"}], tools=[WEATHER]
    ) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls[0].function.name == "get_weather"
    assert json.loads(choice.message.tool_calls[0].function.arguments)["city"]


def test_router_with_tools_routes_to_the_tool_capable_expert_with_k1(oai):
    raw = oai.chat.completions.with_raw_response.create(
        model="router/auto", messages=[{"role": "user", "content": "call get_weather for Oslo"}], tools=[WEATHER]
    )
    assert raw.headers["x-orchestrator-experts"] == "alpha"
    assert raw.parse().choices[0].message.tool_calls[0].function.name == "get_weather"


def test_router_with_tools_and_no_tool_capable_expert_is_a_400_saying_why(oai):
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model="router/auto", messages=ASK, tools=[WEATHER], extra_body={"orchestrator": {"experts": ["beta"]}})
    assert info.value.body["param"] == "tools" and "tool-capable" in info.value.body["message"]


def test_logprobs_pass_through_plain_and_streamed(oai):
    out = oai.chat.completions.create(model="beta", messages=ASK, max_tokens=8, logprobs=True, top_logprobs=2)
    content = out.choices[0].logprobs.content
    assert content and all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in content)
    chunks = list(oai.chat.completions.create(model="beta", messages=ASK, max_tokens=8, logprobs=True, top_logprobs=1, stream=True))
    streamed = [t for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content]
    assert streamed and streamed[0].top_logprobs


def test_router_with_logprobs_answers_from_one_expert(oai):
    raw = oai.chat.completions.with_raw_response.create(model="router/auto", messages=ASK, max_tokens=8, logprobs=True)
    assert raw.headers["x-orchestrator-experts"] == "alpha"
    assert raw.parse().choices[0].logprobs.content


def test_langchain_bind_tools_and_structured_output(live):
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from pydantic import BaseModel

    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return "sunny"

    class Weather(BaseModel):
        city: str
        days: int

    llm = ChatOpenAI(base_url=f"{live.url}/v1", api_key="unused", model="alpha", max_retries=0, timeout=20)
    message = llm.bind_tools([get_weather]).invoke("Please call get_weather for Paris")
    assert message.tool_calls and message.tool_calls[0]["name"] == "get_weather"
    routed = ChatOpenAI(base_url=f"{live.url}/v1", api_key="unused", model="router/auto", max_retries=0, timeout=20)
    parsed = routed.with_structured_output(Weather, method="function_calling").invoke("Weather in Paris for 3 days")
    assert isinstance(parsed, Weather) and parsed.city


# ---------------------------------------------------------------- 3. max_tokens


def test_request_without_max_tokens_fits_a_small_context(oai):
    # Injecting max_tokens=1024 failed on a 512-token expert; now the expert's context caps it,
    # and the worst-case cost estimate uses that cap.
    raw = oai.chat.completions.with_raw_response.create(model="alpha", messages=ASK, extra_body={"orchestrator": {"trace": True}})
    out = raw.parse()
    assert out.choices[0].message.content and out.usage.completion_tokens < 512
    (event,) = json.loads(raw.text)["trace"]["events"]
    prompt = 4  # "What is 6 * 7?" at 4 characters a token; max_tokens = 512 - 4
    assert event["decision"]["max_cost_usd"] == pytest.approx((prompt * 1.0 + (512 - prompt) * 2.0) / 1e6)


# ---------------------------------------------------------------- 4. parameter ranges


@pytest.mark.parametrize(("field", "value"), [("temperature", 99), ("presence_penalty", 50), ("frequency_penalty", -3), ("top_p", 0), ("top_logprobs", 21)])
def test_out_of_range_parameter_is_a_400_naming_it(oai, field, value):
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model="alpha", messages=ASK, **{field: value}, **({"logprobs": True} if field == "top_logprobs" else {}))
    assert info.value.body["param"] == field


def test_an_experts_400_keeps_its_param(oai):
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model="alpha", messages=ASK, max_tokens=100_000)
    assert info.value.body["param"] == "max_tokens" and "alpha" in info.value.body["message"]


# ---------------------------------------------------------------- 5-7. ready, leaks, categories


def test_ready_with_one_dead_expert_while_every_category_is_served(live):
    ready = httpx.get(f"{live.url}/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["experts"]["alpha"] == "ok" and body["experts"]["delta"].startswith("unreachable") and all(body["categories"].values())
    assert httpx.get(f"{live.url}/ready", params={"require": "all"}, timeout=10).status_code == 503


def test_errors_name_the_expert_never_its_address(live):
    for stream in (False, True):
        response = httpx.post(f"{live.url}/v1/chat/completions", json={"model": "delta", "messages": ASK, "stream": stream}, timeout=20)
        assert response.status_code == 503
        assert "delta" in response.text and "127.0.0.1" not in response.text and "http://" not in response.text


def test_unknown_category_is_a_400(oai):
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model="router/auto", messages=ASK, extra_body={"orchestrator": {"category": "astrology"}})
    assert info.value.body["param"] == "orchestrator.category"


# ---------------------------------------------------------------- 8. endpoints


def test_completions_and_embeddings_pass_through(oai):
    text = oai.completions.create(model="alpha", prompt="Say hi", max_tokens=5)
    assert text.model == "alpha" and text.choices[0].text
    streamed = "".join(c.choices[0].text for c in oai.completions.create(model="alpha", prompt="Say hi", max_tokens=5, stream=True) if c.choices)
    assert streamed
    vectors = oai.embeddings.create(model="beta", input=["one", "two"])
    assert [d.index for d in vectors.data] == [0, 1] and len(vectors.data[0].embedding) > 0


@pytest.mark.parametrize("model", ["router/auto", "no-such-model"])
def test_completions_for_a_model_no_expert_serves_is_a_404_naming_it(oai, model):
    with pytest.raises(openai.NotFoundError) as info:
        oai.completions.create(model=model, prompt="hi", max_tokens=2)
    assert model in info.value.body["message"] and info.value.body["param"] == "model"


@pytest.mark.parametrize("model", ["alpha", "router/auto"])
def test_responses_api_text_in_text_out(oai, model):
    response = oai.responses.create(model=model, input="What is 6 * 7?", instructions="Answer briefly.", max_output_tokens=32)
    OpenAIResponse.model_validate(response.model_dump())
    assert response.output_text and response.usage.total_tokens > 0


@pytest.mark.parametrize("model", ["alpha", "router/auto"])
def test_responses_api_streams_events(oai, model):
    events = list(oai.responses.create(model=model, input=[{"role": "user", "content": "What is 6 * 7?"}], stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] in ("response.completed", "response.incomplete")
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas and events[-1].response.output_text == deltas
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_curl_streams_a_tool_call(live):
    body = json.dumps({"model": "alpha", "messages": [{"role": "user", "content": "Weather?"}], "tools": [WEATHER], "tool_choice": FORCE_WEATHER, "stream": True})
    out = subprocess.run(
        ["curl", "-sS", "-N", "--max-time", "20", "-H", "Content-Type: application/json", "-d", body, f"{live.url}/v1/chat/completions"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    data = [line[6:] for line in out.stdout.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate_json(d) for d in data[:-1]]
    names = [tc.function.name for c in chunks for ch in c.choices for tc in ch.delta.tool_calls or [] if tc.function and tc.function.name]
    assert names == ["get_weather"]


def test_non_stream_response_validates_against_openai_types(live):
    raw = httpx.post(f"{live.url}/v1/chat/completions", json={"model": "alpha", "messages": ASK, "tools": [WEATHER], "tool_choice": FORCE_WEATHER}, timeout=20)
    ChatCompletion.model_validate(raw.json())


def test_an_expert_served_without_a_tool_parser_refuses_tools_and_the_gateway_says_so(sim_factory):
    # vLLM 0.32 refuses even a named tool_choice without --tool-call-parser; the simulator too.
    sim = sim_factory("org/fid-no-tools", extra_args=("--no-tool-calling",))
    data = {"version": 1, "experts": [{"name": "plain", "model": "hosted_vllm/org/fid-no-tools", "api_base": sim.api_base, "max_retries": 0, "roles": ["expert", "aggregator"]}]}
    with ThreadedServer(create_app(parse_config(yaml.safe_dump(data)), router=RankedRouter(k=1))) as server:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=20)
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model="plain", messages=ASK, tools=[WEATHER], tool_choice=FORCE_WEATHER)
    assert "plain" in info.value.body["message"] and "--tool-call-parser" in info.value.body["message"]
