"""Fault injection on a real simulator process: dropped connections, stalls, slow streams."""

from __future__ import annotations

import time

import httpx
import pytest

pytestmark = pytest.mark.integration

BODY = {"messages": [{"role": "user", "content": "Explain tides."}]}


def test_dropped_connection_cuts_a_json_response_mid_body(sim_factory) -> None:
    sim = sim_factory("drop-json", drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{sim.api_base}/chat/completions", json=BODY, timeout=10)
    assert httpx.get(f"{sim.url}/health", timeout=10).status_code == 200  # the server survives


def test_dropped_connection_cuts_a_stream_before_done(sim_factory) -> None:
    sim = sim_factory("drop-json", drop_rate=1.0)
    received = []
    url = f"{sim.api_base}/chat/completions"
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", url, json={**BODY, "stream": True}, timeout=10) as r,
    ):
        assert r.status_code == 200
        for line in r.iter_lines():
            received.append(line)
    assert received and not any("[DONE]" in line for line in received)


def test_stall_hangs_past_the_client_timeout(sim_factory) -> None:
    sim = sim_factory("stall", stall_rate=1.0, stall_s=30.0)
    start = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{sim.api_base}/chat/completions", json=BODY, timeout=0.5)
    assert time.monotonic() - start < 5


def test_slow_stream_spaces_chunks_even_at_time_scale_zero(sim_factory) -> None:
    sim = sim_factory("slow", slow_stream_ms=30.0)
    start = time.monotonic()
    with httpx.stream(
        "POST", f"{sim.api_base}/chat/completions", json={**BODY, "stream": True, "max_tokens": 10}, timeout=10
    ) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert time.monotonic() - start >= 9 * 0.03


def test_partial_error_rate_fails_some_requests_and_serves_the_rest(sim_factory) -> None:
    sim = sim_factory("flaky", error_rate=0.5, seed=1)
    with httpx.Client(timeout=10) as client:
        codes = [client.post(f"{sim.api_base}/chat/completions", json=BODY).status_code for _ in range(40)]
    assert set(codes) == {200, 500}
    assert 8 <= codes.count(500) <= 32
