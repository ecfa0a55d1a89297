"""Sleep mode (vLLM 0.17+ semantics): requests sent while asleep are held until a full wake-up.

Runs on a fresh simulator, and on real vLLM when it serves the dev-mode sleep API (the CPU
build does, with ``VLLM_SERVER_DEV_MODE=1``).
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from .conftest import Target
from .wire import TIMEOUT, chat_body, post

pytestmark = pytest.mark.integration


def _sleep_state(target: Target) -> dict[str, float]:
    text = httpx.get(f"{target.url}/metrics", timeout=TIMEOUT).text
    out = {}
    for state in ("awake", "weights_offloaded", "discard_all"):
        line = f'vllm:engine_sleep_state{{engine="0",model_name="{target.model}",sleep_state="{state}"}}'
        out[state] = float(next(row for row in text.splitlines() if row.startswith(line)).split()[-1])
    return out


def test_sleep_and_wake_report_state_and_metrics(sleepy_target: Target) -> None:
    t = sleepy_target
    try:
        assert httpx.post(f"{t.url}/sleep", params={"level": 2}, timeout=TIMEOUT).json() == {
            "status": "sleeping",
            "level": 2,
        }
        assert httpx.get(f"{t.url}/is_sleeping", timeout=TIMEOUT).json() == {"is_sleeping": True}
        assert _sleep_state(t) == {"awake": 0.0, "weights_offloaded": 0.0, "discard_all": 1.0}
        assert httpx.get(f"{t.url}/health", timeout=TIMEOUT).status_code == 200  # still healthy while asleep
        partial = httpx.post(f"{t.url}/wake_up", params={"tags": "weights"}, timeout=TIMEOUT).json()
        assert partial == {"status": "sleeping", "tags": ["weights"]}
        assert httpx.get(f"{t.url}/is_sleeping", timeout=TIMEOUT).json() == {"is_sleeping": True}
    finally:
        woke = httpx.post(f"{t.url}/wake_up", timeout=TIMEOUT).json()
    assert woke == {"status": "awake", "tags": None}
    assert httpx.get(f"{t.url}/is_sleeping", timeout=TIMEOUT).json() == {"is_sleeping": False}
    assert _sleep_state(t) == {"awake": 1.0, "weights_offloaded": 0.0, "discard_all": 0.0}


def test_sleep_level_outside_0_to_2_is_400(sleepy_target: Target) -> None:
    r = httpx.post(f"{sleepy_target.url}/sleep", params={"level": 3}, timeout=TIMEOUT)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "query.level"


def test_request_sent_while_asleep_is_held_until_wake_up(sleepy_target: Target) -> None:
    t = sleepy_target
    httpx.post(f"{t.url}/sleep", params={"level": 1}, timeout=TIMEOUT)
    result: dict[str, object] = {}

    def call() -> None:
        r = post(f"{t.api_base}/chat/completions", chat_body(t.model, max_tokens=2))
        result["status"], result["at"] = r.status_code, time.monotonic()

    worker = threading.Thread(target=call)
    try:
        worker.start()
        worker.join(timeout=1.5)
        assert worker.is_alive(), "the request was answered while the engine slept"
    finally:
        woke_at = time.monotonic()
        httpx.post(f"{t.url}/wake_up", timeout=TIMEOUT)
        worker.join(timeout=30)
    assert result["status"] == 200
    assert result["at"] >= woke_at
