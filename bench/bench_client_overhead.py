"""Claim: the raw httpx path costs a fraction of litellm's per-call overhead against vLLM.

One simulated vLLM server at time-scale 0 (instant answers), 64 concurrent callers. For each
path, the same number of non-streaming chat completions; rounds interleave the paths so load
from other processes hits them alike. Reported per call: client CPU (this process only: the
server runs in its own process, so this is the client's own overhead), wall time at
concurrency 64, and median latency at concurrency 1.

* ``raw httpx``         one ``AsyncClient.post`` per call, JSON decode, nothing else (the floor);
* ``client/httpx``      ``ExpertClient(transport="httpx")``: limits, breaker, retries, usage, cost;
* ``client/litellm``    ``ExpertClient(transport="litellm")``: the same, through ``litellm.acompletion``;
* ``... stream``        the same clients streaming the answer (SSE, one event per token) to the end.

    .venv/bin/python bench/bench_client_overhead.py [--calls 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestrator.config import Config  # noqa: E402
from orchestrator.experts import ExpertClient  # noqa: E402
from services.expert_sim.launcher import SimSpec, start_simulators  # noqa: E402

MESSAGES = [{"role": "user", "content": "Summarise the plot of Hamlet in one sentence."}]
PARAMS = {"max_tokens": 16, "temperature": 0}
CONCURRENCY = 64


async def _measure(call, calls: int) -> tuple[float, float, float]:
    """(client CPU ms per call, wall ms per call at concurrency 64, p50 latency ms at concurrency 1)."""
    for _ in range(20):
        await call()
    single = []
    for _ in range(50):
        t = time.perf_counter()
        await call()
        single.append(time.perf_counter() - t)
    per_worker = calls // CONCURRENCY

    async def worker() -> None:
        for _ in range(per_worker):
            await call()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    n = per_worker * CONCURRENCY
    return (time.process_time() - cpu) / n * 1e3, (time.perf_counter() - wall) / n * 1e3, statistics.median(single) * 1e3


async def run(api_base: str, served: str, calls: int, rounds: int) -> dict[str, list[tuple[float, float, float]]]:
    config = Config.model_validate(
        {"experts": [{"name": "e", "model": f"hosted_vllm/{served}", "api_base": api_base, "roles": ["expert", "aggregator"], "max_concurrency": 256}]}
    )
    raw = httpx.AsyncClient(limits=httpx.Limits(max_connections=256), timeout=60)
    via_httpx = ExpertClient(config, transport="httpx")
    via_litellm = ExpertClient(config, transport="litellm")

    async def raw_call() -> None:
        r = await raw.post(f"{api_base}/chat/completions", json={"model": served, "messages": MESSAGES, **PARAMS})
        r.raise_for_status()
        r.json()["choices"][0]["message"]["content"]

    async def drain(client: ExpertClient) -> None:
        async for _ in client.stream("e", MESSAGES, PARAMS):
            pass

    paths = {
        "raw httpx": raw_call,
        "client/httpx": lambda: via_httpx.complete("e", MESSAGES, PARAMS),
        "client/litellm": lambda: via_litellm.complete("e", MESSAGES, PARAMS),
        "client/httpx stream": lambda: drain(via_httpx),
        "client/litellm stream": lambda: drain(via_litellm),
    }
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in paths}
    for r in range(rounds):
        for name, call in paths.items():
            results[name].append(await _measure(call, calls))
        print(f"round {r + 1}/{rounds} done", flush=True)
    await raw.aclose()
    await via_httpx.aclose()
    await via_litellm.aclose()
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=1024, help="calls per path per round (64 concurrent)")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    with start_simulators([SimSpec("overhead-bench", time_scale=0.0)]) as (sim,):
        results = asyncio.run(run(sim.api_base, sim.served_model_name, args.calls, args.rounds))

    from rich.console import Console
    from rich.table import Table

    med = {name: [statistics.median(x[i] for x in rows) for i in range(3)] for name, rows in results.items()}
    base = med["client/httpx"]
    t = Table(title=f"{args.calls} calls x {args.rounds} rounds per path, {CONCURRENCY} concurrent (medians of rounds)")
    for col in ("path", "client CPU ms/call", "wall ms/call @64", "p50 latency ms @1", "CPU vs client/httpx"):
        t.add_column(col, justify="right")
    for name, (cpu, wall, lat) in med.items():
        t.add_row(name, f"{cpu:.2f}", f"{wall:.2f}", f"{lat:.2f}", f"{cpu / base[0]:.2f}x")
    console = Console(width=160)
    console.print(t)
    lit, lit_s, base_s = med["client/litellm"], med["client/litellm stream"], med["client/httpx stream"]
    console.print(
        f"litellm / httpx: {lit[0] / base[0]:.1f}x client CPU per call, {lit[1] / base[1]:.1f}x wall per call at 64 concurrent, "
        f"{lit[2] / base[2]:.1f}x single-call latency; streamed: {lit_s[0] / base_s[0]:.1f}x CPU, {lit_s[2] / base_s[2]:.1f}x latency. "
        f"client/httpx vs raw httpx: {base[0] - med['raw httpx'][0]:+.2f} ms CPU per call"
    )


if __name__ == "__main__":
    main()
