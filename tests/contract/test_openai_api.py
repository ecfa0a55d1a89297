"""The OpenAI-compatible API contract, checked on the simulator and (``-m vllm``) on real vLLM.

Every test runs once per target; both must pass the same assertions.
"""

from __future__ import annotations

import re

import httpx
import pytest

from .conftest import Target
from .wire import TIMEOUT, chat_body, post, stream_chunks

pytestmark = pytest.mark.integration

ID = {"chat": re.compile(r"^chatcmpl-[0-9a-f]{16,32}$"), "cmpl": re.compile(r"^cmpl-[0-9a-f]{16,32}$")}


def _max_model_len(target: Target) -> int:
    return httpx.get(f"{target.api_base}/models", timeout=TIMEOUT).json()["data"][0]["max_model_len"]


def test_models_lists_one_vllm_card_per_served_name(target: Target) -> None:
    r = httpx.get(f"{target.api_base}/models", timeout=TIMEOUT)
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list"
    card = body["data"][0]
    assert card["id"] == target.model
    assert card["object"] == "model" and card["owned_by"] == "vllm" and card["parent"] is None
    assert isinstance(card["max_model_len"], int) and isinstance(card["created"], int)
    assert card["permission"][0]["object"] == "model_permission"
    assert card["permission"][0]["id"].startswith("modelperm-")


def test_chat_completion_has_vllm_shape_and_usage(target: Target) -> None:
    r = post(f"{target.api_base}/chat/completions", chat_body(target.model))
    assert r.status_code == 200, r.text
    body = r.json()
    assert ID["chat"].match(body["id"])
    assert body["object"] == "chat.completion" and body["model"] == target.model
    assert body["system_fingerprint"].startswith("vllm-")
    choice = body["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] in ("stop", "length")
    message = choice["message"]
    assert message["role"] == "assistant" and isinstance(message["content"], str)
    assert "tool_calls" not in message  # vLLM leaves an empty list out
    usage = body["usage"]
    assert 0 < usage["completion_tokens"] <= 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_completion_stops_at_max_tokens_with_finish_reason_length(target: Target) -> None:
    body = chat_body(target.model, "Write a long story about a lighthouse keeper.", max_tokens=3, ignore_eos=True)
    r = post(f"{target.api_base}/chat/completions", body)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["finish_reason"] == "length"
    assert r.json()["usage"]["completion_tokens"] == 3


def test_chat_prompt_tokens_match_tokenize_count(target: Target) -> None:
    messages = [{"role": "user", "content": "How many tokens is this sentence, roughly?"}]
    chat = post(f"{target.api_base}/chat/completions", {"model": target.model, "messages": messages, "max_tokens": 2})
    tok = post(f"{target.url}/tokenize", {"model": target.model, "messages": messages})
    assert tok.status_code == 200, tok.text
    assert set(tok.json()) == {"count", "max_model_len", "tokens", "token_strs"}
    assert tok.json()["count"] == chat.json()["usage"]["prompt_tokens"] == len(tok.json()["tokens"])


def test_chat_stream_sends_role_then_content_then_usage_then_done(target: Target) -> None:
    body = chat_body(target.model, max_tokens=4, stream=True, stream_options={"include_usage": True}, ignore_eos=True)
    chunks, last = stream_chunks(f"{target.api_base}/chat/completions", body)
    assert last == "[DONE]"
    assert len({c["id"] for c in chunks}) == 1 and ID["chat"].match(chunks[0]["id"])
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == target.model for c in chunks)
    first, *content, usage = chunks
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert first["choices"][0]["finish_reason"] is None and "prompt_token_ids" in first
    assert [c["choices"][0]["finish_reason"] for c in content] == [None] * (len(content) - 1) + ["length"]
    assert all(set(c["choices"][0]["delta"]) == {"content"} for c in content)
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 4
    assert set(usage["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert usage["system_fingerprint"].startswith("vllm-")


def test_chat_stream_without_stream_options_sends_no_usage_chunk(target: Target) -> None:
    chunks, last = stream_chunks(f"{target.api_base}/chat/completions", chat_body(target.model, stream=True))
    assert last == "[DONE]"
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert chunks[-1]["system_fingerprint"].startswith("vllm-")


def test_text_completion_json_and_stream(target: Target) -> None:
    body = {"model": target.model, "prompt": "The capital of France is", "max_tokens": 3, "ignore_eos": True}
    r = post(f"{target.api_base}/completions", body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert ID["cmpl"].match(out["id"]) and out["object"] == "text_completion"
    assert isinstance(out["choices"][0]["text"], str) and out["choices"][0]["finish_reason"] == "length"
    assert out["usage"]["completion_tokens"] == 3
    chunks, last = stream_chunks(
        f"{target.api_base}/completions", {**body, "stream": True, "stream_options": {"include_usage": True}}
    )
    assert last == "[DONE]"
    assert all(c["object"] == "text_completion" for c in chunks)
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3


@pytest.mark.parametrize(
    ("case", "body", "status", "type_", "param", "message"),
    [
        (
            "unknown model",
            {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]},
            404,
            "NotFoundError",
            "model",
            r"^The model `no-such-model` does not exist\.",
        ),
        ("messages not a list", {"messages": "oops"}, 400, "Bad Request", "body.messages", r"^1 validation error:"),
        ("messages missing", {}, 400, "Bad Request", "body.messages", r"Field required"),
        (
            "stream options without stream",
            {"messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": True}},
            400,
            "BadRequestError",
            "stream_options",
            r"^Stream options can only be defined when `stream=True`\.",
        ),
        (
            "max_tokens zero",
            {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0},
            400,
            "BadRequestError",
            "max_tokens",
            r"^max_tokens must be at least 1, got 0\.",
        ),
        (
            "max_tokens beyond context",
            {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100_000},
            400,
            "BadRequestError",
            "max_tokens",
            r"^max_tokens=100000 cannot be greater than max_model_len=\d+\.",
        ),
        (
            "prompt beyond context",
            {"messages": [{"role": "user", "content": "word " * 600}]},
            400,
            "BadRequestError",
            "input_tokens",
            r"^This model's maximum context length is \d+ tokens\. However, your prompt contains",
        ),
    ],  # fmt: skip
)
def test_chat_errors_match_vllm(
    target: Target, case: str, body: dict, status: int, type_: str, param: str, message: str
) -> None:
    r = post(f"{target.api_base}/chat/completions", body)
    assert r.status_code == status, (case, r.text)
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"], error["code"]) == (type_, param, status)
    assert re.search(message, error["message"]), error["message"]


def test_malformed_json_and_wrong_content_type_are_400(target: Target) -> None:
    url = f"{target.api_base}/chat/completions"
    bad_json = httpx.post(url, content=b'{"model":', headers={"content-type": "application/json"}, timeout=TIMEOUT)
    assert bad_json.status_code == 400 and bad_json.json()["error"]["type"] == "Bad Request"
    text = httpx.post(url, content=b"{}", headers={"content-type": "text/plain"}, timeout=TIMEOUT)
    assert text.status_code == 400
    assert "Unsupported Media Type: Only 'application/json' is allowed" in text.json()["error"]["message"]


def test_unknown_route_is_plain_404(target: Target) -> None:
    for path in ("/v1/nope", f"/v1/models/{target.model}"):
        r = httpx.get(f"{target.url}{path}", timeout=TIMEOUT)
        assert (r.status_code, r.json()) == (404, {"detail": "Not Found"})


def test_health_is_empty_200_and_version_is_reported(target: Target) -> None:
    health = httpx.get(f"{target.url}/health", timeout=TIMEOUT)
    assert (health.status_code, health.content) == (200, b"")
    assert re.match(r"^\d+\.\d+", httpx.get(f"{target.url}/version", timeout=TIMEOUT).json()["version"])


def test_metrics_use_vllm_names_and_labels(target: Target) -> None:
    post(f"{target.api_base}/chat/completions", chat_body(target.model, max_tokens=2))
    r = httpx.get(f"{target.url}/metrics", timeout=TIMEOUT)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    labels = f'engine="0",model_name="{target.model}"'
    for name in (
        "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
        "vllm:prompt_tokens_total", "vllm:generation_tokens_total",
        "vllm:time_to_first_token_seconds_count", "vllm:inter_token_latency_seconds_count",
        "vllm:e2e_request_latency_seconds_count", "vllm:request_queue_time_seconds_count",
    ):  # fmt: skip
        assert f"{name}{{{labels}}}" in r.text, name
    for reason in ("stop", "length", "abort"):
        assert (
            f'vllm:request_success_total{{engine="0",finished_reason="{reason}",model_name="{target.model}"}}' in r.text
        )
    for state in ("awake", "weights_offloaded", "discard_all"):
        assert f'vllm:engine_sleep_state{{engine="0",model_name="{target.model}",sleep_state="{state}"}}' in r.text


def test_generation_counters_grow_by_usage(target: Target) -> None:
    def counter(text: str, name: str) -> float:
        match = re.search(
            rf'^{re.escape(name)}{{engine="0",model_name="{re.escape(target.model)}"}} (\S+)$', text, re.M
        )
        assert match, name
        return float(match.group(1))

    before = httpx.get(f"{target.url}/metrics", timeout=TIMEOUT).text
    usage = post(f"{target.api_base}/chat/completions", chat_body(target.model, max_tokens=3, ignore_eos=True)).json()[
        "usage"
    ]
    after = httpx.get(f"{target.url}/metrics", timeout=TIMEOUT).text
    for name, key in (
        ("vllm:prompt_tokens_total", "prompt_tokens"),
        ("vllm:generation_tokens_total", "completion_tokens"),
    ):
        assert counter(after, name) - counter(before, name) == usage[key]
