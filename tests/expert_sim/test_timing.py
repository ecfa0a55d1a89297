"""The latency model as a client sees it, on a real simulator process at time scale 1."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

pytestmark = pytest.mark.integration


def _ttft(url: str, content: str) -> float:
    start = time.monotonic()
    body = {"messages": [{"role": "user", "content": content}], "max_tokens": 2, "stream": True}
    with httpx.stream("POST", f"{url}/chat/completions", json=body, timeout=30) as r:
        for line in r.iter_lines():
            if '"content"' in line and '"role"' not in line:
                return time.monotonic() - start
    raise AssertionError("no content chunk")


def test_time_to_first_token_grows_with_prompt_length(sim_factory) -> None:
    # 1 s per 1k prompt tokens makes the difference far larger than scheduling noise.
    sim = sim_factory("ttft", time_scale=1.0, extra_args=("--ttft-per-1k-prompt-tokens-ms", "1000"))
    short = min(_ttft(sim.api_base, "hi") for _ in range(2))
    long = _ttft(sim.api_base, "word " * 800)
    assert long - short > 0.4


def _gauge(text: str, name: str) -> float:
    return float(next(line for line in text.splitlines() if line.startswith(name + "{")).split()[-1])


def test_requests_beyond_max_num_seqs_wait_in_queue(sim_factory) -> None:
    sim = sim_factory("queue", time_scale=1.0, max_num_seqs=2, extra_args=("--itl-ms", "20"))
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 40, "ignore_eos": True}
    seen: list[tuple[float, float]] = []
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(httpx.post, f"{sim.api_base}/chat/completions", json=body, timeout=30) for _ in range(6)]
        while not all(f.done() for f in futures):
            text = httpx.get(f"{sim.url}/metrics", timeout=10).text
            seen.append((_gauge(text, "vllm:num_requests_running"), _gauge(text, "vllm:num_requests_waiting")))
            time.sleep(0.05)
        assert all(f.result().status_code == 200 for f in futures)
    assert max(running for running, _ in seen) == 2
    assert max(waiting for _, waiting in seen) >= 1
