"""Sleep mode over HTTP on simulator processes (real vLLM's side is in tests/contract)."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

pytestmark = pytest.mark.integration


def _wake_time(url: str, level: int) -> float:
    httpx.post(f"{url}/sleep", params={"level": level}, timeout=30).raise_for_status()
    start = time.monotonic()
    httpx.post(f"{url}/wake_up", timeout=30).raise_for_status()
    return time.monotonic() - start


def test_wake_up_cost_scales_with_model_size_and_level(sim_factory) -> None:
    # time_scale 0.05: 0.5B wakes in ~10 ms, 70B takes ~0.55 s (level 1) and ~1.7 s (level 2).
    small = sim_factory("small", params_b=0.5, time_scale=0.05, fresh=True)
    large = sim_factory("large", params_b=70, time_scale=0.05, fresh=True)
    small_l1, large_l1 = _wake_time(small.url, 1), _wake_time(large.url, 1)
    large_l2 = _wake_time(large.url, 2)
    assert large_l1 > 5 * small_l1
    assert large_l2 > 2 * large_l1


def test_sleep_aborts_a_running_stream(sim_factory) -> None:
    sim = sim_factory("abort", time_scale=1.0, fresh=True, extra_args=("--itl-ms", "50"))
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 200, "ignore_eos": True, "stream": True}
    lines: list[str] = []

    def consume() -> None:
        with httpx.stream("POST", f"{sim.api_base}/chat/completions", json=body, timeout=30) as r:
            lines.extend(r.iter_lines())

    reader = threading.Thread(target=consume)
    reader.start()
    time.sleep(0.5)
    httpx.post(f"{sim.url}/sleep", params={"level": 1, "mode": "abort"}, timeout=30)
    reader.join(timeout=10)
    httpx.post(f"{sim.url}/wake_up", timeout=30)
    assert '"finish_reason":"abort"' in "".join(lines)
    assert lines[-1 if lines[-1] else -2] == "data: [DONE]"
    metrics = httpx.get(f"{sim.url}/metrics", timeout=10).text
    assert 'vllm:request_success_total{engine="0",finished_reason="abort",model_name="abort"} 1.0' in metrics
