"""How fast is the vLLM simulator itself? (So other benchmarks know it is not their bottleneck.)

Claim: at time_scale 0 one simulator process answers hundreds of chat completions per second
at concurrency 64, within a small factor of a bare FastAPI endpoint returning a canned
response, measured side by side in the same run with the same client.

Run: .venv/bin/python bench/bench_expert_sim.py [--requests 2000] [--concurrency 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.expert_sim.launcher import SimProcess, SimSpec  # noqa: E402

# A bare FastAPI app with the simulator's server settings, answering a canned completion.
BASELINE = """
import socket, sys, uvicorn
from fastapi import FastAPI
app = FastAPI()
CANNED = {"id": "chatcmpl-0", "object": "chat.completion", "created": 0, "model": "m",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "The answer is 42."},
                       "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
@app.post("/v1/chat/completions")
async def chat(body: dict) -> dict:
    return CANNED
@app.get("/health")
async def health() -> dict:
    return {}
config = uvicorn.Config(app, log_level="warning", access_log=False)
uvicorn.Server(config).run(sockets=[socket.socket(fileno=int(sys.argv[1]))])
"""


def start_baseline() -> tuple[subprocess.Popen[bytes], str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", BASELINE, str(sock.fileno())], pass_fds=(sock.fileno(),))
    sock.close()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{url}/health", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("baseline server did not start")


async def load(url: str, requests: int, concurrency: int, stream: bool) -> tuple[float, list[float], list[str]]:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "What is 6 x 7? Think step by step."}],
        "max_tokens": 64,
    }
    if stream:
        body["stream"] = True
    latencies: list[float] = []
    errors: list[str] = []
    remaining = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            for _ in remaining:
                start = time.perf_counter()
                try:
                    if stream:
                        async with client.stream("POST", "/v1/chat/completions", json=body) as r:
                            async for _line in r.aiter_lines():
                                pass
                    else:
                        (await client.post("/v1/chat/completions", json=body)).raise_for_status()
                except httpx.HTTPError as exc:  # counted, not fatal: a noisy machine drops the odd one
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    baseline, baseline_url = start_baseline()
    sim = SimProcess(SimSpec("m", time_scale=0.0)).start().wait_healthy()
    cases = (
        ("bare FastAPI, canned JSON", baseline_url, False),
        ("simulator, chat JSON", sim.url, False),
        ("simulator, chat SSE stream", sim.url, True),
    )
    best: dict[str, tuple[float, float, float, int]] = {}
    try:
        for _name, url, stream in cases:
            asyncio.run(load(url, 200, args.concurrency, stream))  # warm-up
        # Interleaved rounds, best of each: the machine is shared and noisy.
        for _ in range(args.rounds):
            for name, url, stream in cases:
                rps, lat, errors = asyncio.run(load(url, args.requests, args.concurrency, stream))
                for e in sorted(set(errors)):
                    print(f"  {name}: {errors.count(e)} x {e}", file=sys.stderr)
                row = (rps, statistics.median(lat) * 1000, statistics.quantiles(lat, n=100)[98] * 1000, len(errors))
                if name not in best or rps > best[name][0]:
                    best[name] = row
    finally:
        sim.stop()
        baseline.terminate()
        baseline.wait(timeout=10)
    rows = [(name, *best[name]) for name, _, _ in cases]
    base_rps = rows[0][1]
    print(
        f"requests={args.requests} concurrency={args.concurrency} time_scale=0 rounds={args.rounds} "
        "(best round; one server process each, same httpx client)"
    )
    print(f"{'server':<30} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs bare':>8}")
    for name, rps, p50, p99, n_err in rows:
        print(f"{name:<30} {rps:>8.0f} {p50:>8.1f} {p99:>8.1f} {n_err:>7} {rps / base_rps:>8.2f}")


if __name__ == "__main__":
    main()
