"""The simulator app in-process (httpx ASGI transport): answers, limits, auth, metrics."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.expert_sim import SimSettings, create_app

pytestmark = pytest.mark.anyio


def client_for(**options: object) -> httpx.AsyncClient:
    settings = SimSettings(**{"served_model_names": ("m",), "time_scale": 0.0, **options})  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://sim")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for() as c:
        yield c


def chat(content: str, **extra: object) -> dict[str, object]:
    return {"model": "m", "messages": [{"role": "user", "content": content}], **extra}


async def test_chat_replays_the_recorded_answer_for_a_known_prompt(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    row = {"id": "7", "prompt": "What is 6 x 7?", "experts": {"alpha": {"score": 1.0, "answer": "42"}}}
    data.write_text(json.dumps(row) + "\n")
    async with client_for(replay=data, expert="alpha") as c:
        r = await c.post("/v1/chat/completions", json=chat("What is 6 x 7?"))
    content = r.json()["choices"][0]["message"]["content"]
    assert content.splitlines()[-1] == "The answer is 42."
    assert r.json()["choices"][0]["finish_reason"] == "stop"


async def test_chat_answer_is_cut_at_max_tokens_with_length(client: httpx.AsyncClient) -> None:
    full = (await client.post("/v1/chat/completions", json=chat("Why?"))).json()
    short = (await client.post("/v1/chat/completions", json=chat("Why?", max_tokens=3))).json()
    assert short["choices"][0]["finish_reason"] == "length"
    assert short["usage"]["completion_tokens"] == 3
    assert full["choices"][0]["message"]["content"].startswith(short["choices"][0]["message"]["content"])
    # A natural stop counts the EOS token, as vLLM does.
    assert full["usage"]["completion_tokens"] > 3


async def test_chat_stops_at_a_stop_string(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=chat("Why?", stop=["The answer"]))
    content = r.json()["choices"][0]["message"]["content"]
    assert "The answer" not in content and r.json()["choices"][0]["finish_reason"] == "stop"


async def test_model_may_be_omitted_and_response_names_the_first_served_name() -> None:
    async with client_for(served_model_names=("main", "alias")) as c:
        r = await c.post(
            "/v1/chat/completions", json={"model": "alias", "messages": [{"role": "user", "content": "hi"}]}
        )
        r2 = await c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
        models = (await c.get("/v1/models")).json()
    assert r.json()["model"] == r2.json()["model"] == "main"
    assert [m["id"] for m in models["data"]] == ["main", "alias"]


async def test_api_key_guards_v1_paths_only() -> None:
    async with client_for(api_key="sekret") as c:
        denied = await c.get("/v1/models")
        wrong = await c.get("/v1/models", headers={"Authorization": "Bearer nope"})
        allowed = await c.get("/v1/models", headers={"Authorization": "Bearer sekret"})
        health, metrics = await c.get("/health"), await c.get("/metrics")
    assert (denied.status_code, denied.json()) == (401, {"error": "Unauthorized"})
    assert wrong.status_code == 401 and allowed.status_code == 200
    assert health.status_code == 200 and metrics.status_code == 200


async def test_error_rate_one_answers_500_in_the_error_envelope() -> None:
    async with client_for(error_rate=1.0) as c:
        r = await c.post("/v1/chat/completions", json=chat("hi"))
    assert r.status_code == 500
    assert r.json()["error"]["code"] == 500


async def test_metrics_count_requests_by_finish_reason(client: httpx.AsyncClient) -> None:
    await client.post("/v1/chat/completions", json=chat("hi"))
    await client.post("/v1/chat/completions", json=chat("hi", max_tokens=1))
    text = (await client.get("/metrics")).text
    assert 'vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 1.0' in text
    assert 'vllm:request_success_total{engine="0",finished_reason="length",model_name="m"} 1.0' in text
    assert 'vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 2.0' in text


async def test_sleep_endpoints_absent_without_sleep_mode() -> None:
    async with client_for(sleep_mode=False) as c:
        assert (await c.post("/sleep")).status_code == 404
        assert (await c.get("/is_sleeping")).status_code == 404


async def test_completion_prompt_tokens_match_tokenize(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/completions", json={"model": "m", "prompt": "The quick brown fox", "max_tokens": 2})
    tok = await client.post("/tokenize", json={"prompt": "The quick brown fox"})
    assert r.json()["usage"]["prompt_tokens"] == tok.json()["count"]


def test_settings_reject_bad_rates() -> None:
    with pytest.raises(ValueError, match="--error-rate must be within"):
        SimSettings(error_rate=1.5)


async def test_ignore_eos_generates_until_max_tokens(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=chat("hi", max_tokens=300, ignore_eos=True))
    assert r.json()["choices"][0]["finish_reason"] == "length"
    assert r.json()["usage"]["completion_tokens"] == 300


async def test_chat_logprobs_follow_whether_the_replayed_answer_is_right(tmp_path: Path) -> None:
    # 40 questions alpha got right and 40 it got wrong: a cascade reading the answer tokens'
    # logprobs must find the right ones surer on average (noisy, as real models are).
    data = tmp_path / "d.jsonl"
    rows = [{"id": str(i), "prompt": f"Question {i}?", "experts": {"alpha": {"score": float(i % 2 == 0), "answer": str(i)}}} for i in range(80)]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    mean_answer_logprob: dict[bool, list[float]] = {True: [], False: []}
    async with client_for(replay=data, expert="alpha") as c:
        for row in rows:
            r = await c.post("/v1/chat/completions", json=chat(row["prompt"], logprobs=True, top_logprobs=2))
            tokens = r.json()["choices"][0]["logprobs"]["content"]
            assert all(len(t["top_logprobs"]) == 2 and t["top_logprobs"][0]["logprob"] == t["logprob"] for t in tokens)
            mean_answer_logprob[row["experts"]["alpha"]["score"] == 1.0].append(sum(t["logprob"] for t in tokens[-4:]) / 4)
    right, wrong = (sum(v) / len(v) for v in (mean_answer_logprob[True], mean_answer_logprob[False]))
    assert right > wrong + 0.3, (right, wrong)
