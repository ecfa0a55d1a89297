"""Side by side: the simulator's JSON must have exactly vLLM's structure (keys, nesting, types).

Needs a real vLLM (``make test-vllm``); any difference in any response fails here.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import Target
from .wire import TIMEOUT, chat_body, normalise_message, post, shape, stream_chunks

pytestmark = [pytest.mark.integration, pytest.mark.vllm]


def _both(sim_target: Target, vllm_target: Target, fetch: Any) -> tuple[Any, Any]:
    return fetch(sim_target), fetch(vllm_target)


def test_models_card_shape_matches(sim_target: Target, vllm_target: Target) -> None:
    sim, real = _both(sim_target, vllm_target, lambda t: httpx.get(f"{t.api_base}/models", timeout=TIMEOUT).json())
    assert shape(sim) == shape(real)


def test_chat_completion_shape_matches(sim_target: Target, vllm_target: Target) -> None:
    def fetch(t: Target) -> Any:
        return post(f"{t.api_base}/chat/completions", chat_body(t.model, max_tokens=4, ignore_eos=True)).json()

    sim, real = _both(sim_target, vllm_target, fetch)
    assert shape(sim) == shape(real)


def test_text_completion_shape_matches(sim_target: Target, vllm_target: Target) -> None:
    def fetch(t: Target) -> Any:
        return post(
            f"{t.api_base}/completions", {"model": t.model, "prompt": "Once upon", "max_tokens": 3, "ignore_eos": True}
        ).json()

    sim, real = _both(sim_target, vllm_target, fetch)
    assert shape(sim) == shape(real)


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("endpoint", ["chat/completions", "completions"])
def test_stream_chunk_shapes_match(sim_target: Target, vllm_target: Target, endpoint: str, include_usage: bool) -> None:
    def fetch(t: Target) -> list[Any]:
        body: dict[str, Any] = {"model": t.model, "max_tokens": 4, "ignore_eos": True, "stream": True}
        if endpoint == "completions":
            body["prompt"] = "Once upon a time"
        else:
            body["messages"] = [{"role": "user", "content": "Once upon a time"}]
        if include_usage:
            body["stream_options"] = {"include_usage": True}
        chunks, done = stream_chunks(f"{t.api_base}/{endpoint}", body)
        assert done == "[DONE]"
        # Content chunks differ in number (tokenisers differ); compare first, a middle one, and the tail.
        return [shape(c) for c in (chunks[0], chunks[1], *chunks[-2:])]

    sim, real = _both(sim_target, vllm_target, fetch)
    assert sim == real


ERROR_CASES = {
    "unknown model": {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]},
    "messages not a list": {"messages": "oops"},
    "stream options without stream": {
        "messages": [{"role": "user", "content": "hi"}],
        "stream_options": {"include_usage": True},
    },
    "max_tokens zero": {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0},
    "max_tokens beyond context": {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100_000},
    "prompt beyond context": {"messages": [{"role": "user", "content": "word " * 600}]},
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_error_status_type_param_and_wording_match(sim_target: Target, vllm_target: Target, case: str) -> None:
    def fetch(t: Target) -> tuple[int, str, str | None, str]:
        r = post(f"{t.api_base}/chat/completions", ERROR_CASES[case])
        error = r.json()["error"]
        return r.status_code, error["type"], error["param"], normalise_message(error["message"], t.model)

    sim, real = _both(sim_target, vllm_target, fetch)
    assert sim == real


def test_tokenize_shape_matches(sim_target: Target, vllm_target: Target) -> None:
    def fetch(t: Target) -> Any:
        return post(f"{t.url}/tokenize", {"model": t.model, "prompt": "hello world"}).json()

    sim, real = _both(sim_target, vllm_target, fetch)
    assert shape(sim) == shape(real)


def test_metric_families_of_the_simulator_exist_in_vllm(sim_target: Target, vllm_target: Target) -> None:
    def families(t: Target) -> set[str]:
        text = httpx.get(f"{t.url}/metrics", timeout=TIMEOUT).text
        return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE vllm:")}

    sim, real = _both(sim_target, vllm_target, families)
    assert sim <= real, sorted(sim - real)


def test_sleep_bodies_match(sim_target: Target, vllm_target: Target, sim_factory: Any) -> None:
    if httpx.get(f"{vllm_target.url}/is_sleeping", timeout=TIMEOUT).status_code == 404:
        pytest.skip("vLLM runs without VLLM_SERVER_DEV_MODE=1")
    sleepy = sim_factory("contract-model", max_model_len=512, fresh=True)

    def cycle(url: str) -> list[Any]:
        out = [httpx.post(f"{url}/sleep", params={"level": 1}, timeout=TIMEOUT).json()]
        out.append(httpx.get(f"{url}/is_sleeping", timeout=TIMEOUT).json())
        out.append(httpx.post(f"{url}/wake_up", timeout=TIMEOUT).json())
        out.append(httpx.get(f"{url}/is_sleeping", timeout=TIMEOUT).json())
        bad = httpx.post(f"{url}/sleep", params={"level": 5}, timeout=TIMEOUT)
        out.append((bad.status_code, json.dumps(shape(bad.json()))))
        return out

    assert cycle(sleepy.url) == cycle(vllm_target.url)
