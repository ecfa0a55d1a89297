"""What a real instruct model says through vLLM: content, stop sequences, log-probabilities.

Runs against real vLLM only (``make test-vllm`` serves SmolLM2-135M-Instruct from
experts.real.yaml); skipped when ``VLLM_MODEL_KIND=random`` (the tiny random-weight model of
``VLLM_TEST_MODEL=tiny``, whose answers are noise). Greedy decoding keeps every answer
reproducible. Sleep mode against the same server: ``test_sleep_mode.py``.
"""

from __future__ import annotations

import asyncio
import math
import os

import httpx
import pytest

from orchestrator.config import Config
from orchestrator.experts import ExpertClient
from orchestrator.profiling.grading import grade

from .conftest import Target
from .wire import TIMEOUT, post

pytestmark = [pytest.mark.vllm, pytest.mark.integration]


@pytest.fixture(scope="module")
def instruct(vllm_target: Target) -> Target:
    if os.environ.get("VLLM_MODEL_KIND") == "random":
        pytest.skip("the served model has random weights (VLLM_TEST_MODEL=tiny): nothing to assert on content")
    return vllm_target


def _ask(t: Target, question: str, **extra: object) -> dict:
    body = {"model": t.model, "messages": [{"role": "user", "content": question}], "max_tokens": 32, "temperature": 0, **extra}
    r = post(f"{t.api_base}/chat/completions", body)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_factual_question_is_answered_correctly(instruct: Target) -> None:
    answer = _ask(instruct, "What is the capital of France?")["choices"][0]["message"]["content"]
    assert "paris" in answer.lower(), answer


def test_simple_arithmetic_is_answered_and_graded_right(instruct: Target) -> None:
    answer = _ask(instruct, "What is 7 + 5?")["choices"][0]["message"]["content"]
    assert grade(answer, "12").score == 1.0, answer


def test_a_stop_sequence_is_honoured(instruct: Target) -> None:
    out = _ask(instruct, "Count from 1 to 10, separated by commas.", stop=["5"])
    choice = out["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["stop_reason"] == "5"
    text = choice["message"]["content"]
    assert "4" in text and "5" not in text and "6" not in text, text


def test_logprobs_are_returned_for_every_generated_token(instruct: Target) -> None:
    out = _ask(instruct, "Name a primary colour.", logprobs=True, top_logprobs=2)
    content = out["choices"][0]["logprobs"]["content"]
    assert len(content) == out["usage"]["completion_tokens"]
    assert "".join(t["token"] for t in content) == out["choices"][0]["message"]["content"]
    for t in content:
        assert t["logprob"] <= 0 and len(t["top_logprobs"]) == 2
        assert t["top_logprobs"][0]["logprob"] >= t["top_logprobs"][1]["logprob"]
        # Greedy decoding: the chosen token is the most likely one.
        assert math.isclose(t["logprob"], t["top_logprobs"][0]["logprob"], abs_tol=1e-4)


def test_greedy_answers_are_reproducible(instruct: Target) -> None:
    first = _ask(instruct, "Who wrote Romeo and Juliet?")["choices"][0]["message"]["content"]
    assert _ask(instruct, "Who wrote Romeo and Juliet?")["choices"][0]["message"]["content"] == first


def test_the_expert_client_reports_the_mean_token_logprob(instruct: Target) -> None:
    config = Config.model_validate(
        {"experts": [{"name": "real", "model": f"hosted_vllm/{instruct.model}", "api_base": instruct.api_base, "roles": ["expert", "aggregator"]}]}
    )

    async def go():  # noqa: ANN202
        async with ExpertClient(config) as client:
            return await client.complete("real", [{"role": "user", "content": "What is the capital of France?"}],
                                         {"max_tokens": 16, "temperature": 0, "logprobs": True})  # fmt: skip

    c = asyncio.run(go())
    assert "paris" in c.text.lower()
    assert c.mean_logprob is not None and -10 < c.mean_logprob <= 0


def test_a_request_held_while_asleep_gets_a_real_answer_after_wake_up(instruct: Target) -> None:
    if httpx.get(f"{instruct.url}/is_sleeping", timeout=TIMEOUT).status_code == 404:
        pytest.skip("vLLM runs without VLLM_SERVER_DEV_MODE=1: no sleep endpoints")
    assert httpx.post(f"{instruct.url}/sleep", params={"level": 1}, timeout=TIMEOUT).status_code == 200
    try:
        with httpx.Client(timeout=TIMEOUT) as client:
            body = {"model": instruct.model, "messages": [{"role": "user", "content": "What is the capital of France?"}],
                    "max_tokens": 16, "temperature": 0}  # fmt: skip
            import threading

            result: dict = {}
            worker = threading.Thread(target=lambda: result.update(r=client.post(f"{instruct.api_base}/chat/completions", json=body)))
            worker.start()
            worker.join(timeout=1.5)
            assert worker.is_alive(), "answered while asleep"
            httpx.post(f"{instruct.url}/wake_up", timeout=TIMEOUT)
            worker.join(timeout=60)
    finally:
        httpx.post(f"{instruct.url}/wake_up", timeout=TIMEOUT)
    assert result["r"].status_code == 200
    assert "paris" in result["r"].json()["choices"][0]["message"]["content"].lower()
