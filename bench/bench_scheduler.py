"""Claim: batching by expert with residency swaps far less and finishes sooner than serving in
arrival order, whether the fleet is overloaded or not.

16 simulated vLLM experts (real processes, vLLM's sleep/wake costs for a 7.6B model: ~1.35 s
to sleep at level 1, ~1.35 s to wake), a GPU-memory budget that holds 4 awake, and requests
whose expert is the per-query best (cheapest correct) expert of
``../shared/data/routing/zeroeval_reasoning.jsonl`` (the 16 most frequent of its 26; a real,
skewed distribution), arriving as a Poisson process. Each dispatcher sees the same arrivals and
the same fleet, reset to the same 4 awake experts before each run:

* ``fifo``       each request goes to its expert at once; a sleeping expert is woken on demand
                 (least recently used one put to sleep) — a gateway without a scheduler;
* ``keepalive``  arrival order with an LRU keep-alive residency, what a model cache does
                 (Ollama's ``keep_alive``): a resident is evicted only once idle for
                 ``--keep-alive-s``; a request for a sleeping expert waits until one is;
* ``scheduler``  per-expert queues, micro-batches, swaps by pending work with a starvation bound,
                 with experts.yaml's shipped scheduler settings (``min_swap_batch: 1``,
                 ``max_queue_wait_s: 30``, ``max_wait_ms: 20``, ``max_batch_size: 32``) unless
                 ``--min-swap-batch`` / ``--max-queue-wait-s`` say otherwise (printed);
* ``offline``    Symbolic-MoE batch mode: all requests known up front, each expert woken once
                 (a lower bound; it ignores arrival times).

Two loads by default: ``light`` (200 requests over 300 s: the awake experts keep up, swaps are
the only contention) and ``heavy`` (2,000 over 300 s: more work than the fleet can serve
without batching by expert).

Every delay runs at ``--time-scale`` (default 0.2); times in the table are converted back to
simulated seconds (real / time-scale). Below ~0.2 the CPU work of 2,000 HTTP requests on a small
machine stops being negligible next to the scaled delays and inflates every swap.

    .venv/bin/python bench/bench_scheduler.py [--loads light,heavy] [--modes fifo,keepalive,scheduler,offline]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestrator.config import Config, load_config  # noqa: E402
from orchestrator.data import load_dataset, oracle_choice  # noqa: E402
from orchestrator.experts import ExpertClient, ResiliencePolicy  # noqa: E402
from orchestrator.scheduling import FifoDispatcher, KeepAliveDispatcher, ResidencyManager, Scheduler, run_offline_batch  # noqa: E402
from services.expert_sim.launcher import SimSpec, start_simulators  # noqa: E402

DATA = REPO / ".." / "shared" / "data" / "routing" / "zeroeval_reasoning.jsonl"
MEMORY_GB = 20.0
AWAKE = 4
SHIPPED = load_config(REPO / "experts.yaml").scheduler
LOADS = {"light": (200, 300.0), "heavy": (2000, 300.0)}  # (requests, arrival window in simulated s)


@dataclass
class Row:
    mode: str
    total_s: float
    swaps: int
    sleeps: int
    swap_s: float
    wait_p50_s: float
    wait_p99_s: float
    wait_max_s: float
    latency_p50_s: float
    latency_p99_s: float
    answered: int
    failed: int


def load_workload(n: int, arrival_s: float, n_experts: int, seed: int) -> tuple[list[str], list[tuple[float, str, str]]]:
    """(experts by frequency, [(arrival time, expert, prompt)]) with the best expert per query."""
    ds = load_dataset(DATA)
    costs, _ = ds.cost_matrix()
    best = [ds.experts[j] for j in oracle_choice(ds.scores, costs)]
    top = [e for e, _ in Counter(best).most_common(n_experts)]
    rows = [i for i, e in enumerate(best) if e in top]
    rng = random.Random(seed)
    picks = [rng.choice(rows) for _ in range(n)]
    gaps = np.random.default_rng(seed).exponential(arrival_s / n, size=n)
    arrivals = np.cumsum(gaps) - gaps[0]
    return top, [(float(t), best[i], ds.prompts[i]) for t, i in zip(arrivals, picks, strict=True)]


def make_config(sims, experts: list[str], scale: float, max_queue_wait_s: float, min_swap_batch: int) -> Config:
    return Config.model_validate(
        {
            "experts": [
                {
                    "name": e,
                    "model": f"hosted_vllm/{s.served_model_name}",
                    "api_base": s.api_base,
                    "roles": ["expert", "aggregator"],
                    "memory_gb": MEMORY_GB,
                    "max_concurrency": 64,
                    "timeout_s": 600,
                    "max_retries": 2,
                }
                for e, s in zip(experts, sims, strict=True)
            ],
            "scheduler": {
                "gpu_memory_budget_gb": MEMORY_GB * AWAKE,
                "max_batch_size": SHIPPED.max_batch_size,
                "max_wait_ms": SHIPPED.max_wait_ms * scale,
                "max_queue_wait_s": max_queue_wait_s * scale,
                "min_swap_batch": min_swap_batch,
                "sleep_level": SHIPPED.sleep_level,
            },
        }
    )


async def reset_fleet(config: Config) -> None:
    """The first AWAKE experts (the most frequent) awake, every other one asleep at level 1."""
    async with httpx.AsyncClient(timeout=120) as http:

        async def one(i: int, root: str) -> None:
            await http.post(f"{root}/wake_up" if i < AWAKE else f"{root}/sleep", params=None if i < AWAKE else {"level": 1})

        await asyncio.gather(*(one(i, e.server_root) for i, e in enumerate(config.experts)))


async def drive(submit, workload, scale: float) -> tuple[float, list[float], int, int]:
    t0 = time.monotonic()
    latencies: list[float] = []
    failed = 0

    async def one(at: float, expert: str, prompt: str) -> None:
        nonlocal failed
        await asyncio.sleep(max(0.0, t0 + at * scale - time.monotonic()))
        started = time.monotonic()
        try:
            await submit(expert, [{"role": "user", "content": prompt}], {"max_tokens": 256})
        except Exception:  # noqa: BLE001 - counted, the bench goes on
            failed += 1
        latencies.append(time.monotonic() - started)

    await asyncio.gather(*(one(*w) for w in workload))
    return time.monotonic() - t0, latencies, len(workload) - failed, failed


def _row(mode: str, total: float, lat: list[float], ok: int, failed: int, residency: ResidencyManager, waits: dict, scale: float) -> Row:
    lat_a = np.asarray(lat) / scale
    return Row(
        mode, total / scale, residency.wakes, residency.sleeps, residency.swap_seconds / scale,
        waits["wait_p50_s"] / scale, waits["wait_p99_s"] / scale, waits["wait_max_s"] / scale,
        float(np.percentile(lat_a, 50)), float(np.percentile(lat_a, 99)), ok, failed,
    )  # fmt: skip


def _client(config: Config) -> ExpertClient:
    return ExpertClient(config, policy=ResiliencePolicy(breaker_threshold=50, breaker_cooldown_s=1.0))


async def run_scheduler(config: Config, workload, scale: float) -> Row:
    await reset_fleet(config)
    residency = ResidencyManager(config)
    async with _client(config) as client, Scheduler(config, client, residency=residency) as scheduler:
        total, lat, ok, failed = await drive(scheduler.submit, workload, scale)
        stats = scheduler.stats()
    await residency.aclose()
    return _row("scheduler", total, lat, ok, failed, residency, stats, scale)


async def run_fifo(config: Config, workload, scale: float) -> Row:
    await reset_fleet(config)
    residency = ResidencyManager(config)
    await residency.start()
    async with _client(config) as client:
        fifo = FifoDispatcher(client, residency)
        total, lat, ok, failed = await drive(fifo.submit, workload, scale)
    await residency.aclose()
    return _row("fifo", total, lat, ok, failed, residency, fifo.stats(), scale)


async def run_keepalive(config: Config, workload, scale: float, keep_alive_s: float) -> Row:
    await reset_fleet(config)
    residency = ResidencyManager(config)
    await residency.start()
    async with _client(config) as client:
        cache = KeepAliveDispatcher(client, residency, keep_alive_s=keep_alive_s * scale)
        total, lat, ok, failed = await drive(cache.submit, workload, scale)
    await residency.aclose()
    return _row("keepalive", total, lat, ok, failed, residency, cache.stats(), scale)


async def run_offline(config: Config, workload, scale: float) -> Row:
    await reset_fleet(config)
    residency = ResidencyManager(config)
    await residency.start()
    assignments = [(str(i), e, [{"role": "user", "content": p}], {"max_tokens": 256}) for i, (_, e, p) in enumerate(workload)]
    t0 = time.monotonic()
    async with _client(config) as client:
        results = await run_offline_batch(config, client, assignments, progress=False, residency=residency)
    total = time.monotonic() - t0
    await residency.aclose()
    done = [c for cs in results.values() for c in cs]
    ok = sum(c.ok for c in done)
    nan = {"wait_p50_s": float("nan"), "wait_p99_s": float("nan"), "wait_max_s": float("nan")}
    return _row("offline", total, [total] * len(done), ok, len(done) - ok, residency, nan, scale)


def print_table(rows: list[Row], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for col in ("mode", "total s", "wakes", "sleeps", "swap s", "wait p50", "wait p99", "wait max", "latency p50", "latency p99", "ok", "failed"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(r.mode, *(f"{v:.1f}" if isinstance(v, float) else str(v) for v in list(asdict(r).values())[1:]))
    console = Console(width=200)
    console.print(t)
    by = {r.mode: r for r in rows}
    if "scheduler" not in by:
        return
    s = by["scheduler"]
    for name in ("fifo", "keepalive"):
        if name in by:
            b = by[name]
            console.print(
                f"scheduler vs {name}: {b.swaps / max(1, s.swaps):.1f}x fewer swaps, {b.total_s / s.total_s:.2f}x less total time, "
                f"latency p50 {s.latency_p50_s:.1f} s vs {b.latency_p50_s:.1f} s, p99 {s.latency_p99_s:.1f} s vs {b.latency_p99_s:.1f} s, "
                f"failed {s.failed} vs {b.failed}"
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--loads", default="light,heavy", help=f"named loads: {', '.join(f'{k} = {n} requests over {a:g} s' for k, (n, a) in LOADS.items())}")
    p.add_argument("--time-scale", type=float, default=0.2)
    p.add_argument("--max-queue-wait-s", type=float, default=SHIPPED.max_queue_wait_s, help="the scheduler's starvation bound, simulated seconds (shipped default)")
    p.add_argument("--min-swap-batch", type=int, default=SHIPPED.min_swap_batch, help="shipped default from experts.yaml")
    p.add_argument("--keep-alive-s", type=float, default=10.0, help="the keep-alive baseline's idle time before eviction, simulated seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--modes", default="fifo,keepalive,scheduler,offline")
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = p.parse_args()
    if not DATA.is_file():
        sys.exit(f"needs {DATA} (the shared routing data)")
    print(f"scheduler settings: min_swap_batch {args.min_swap_batch}, max_queue_wait_s {args.max_queue_wait_s:g}, "
          f"max_wait_ms {SHIPPED.max_wait_ms:g}, max_batch_size {SHIPPED.max_batch_size} (experts.yaml ships "
          f"{SHIPPED.min_swap_batch}, {SHIPPED.max_queue_wait_s:g}, {SHIPPED.max_wait_ms:g}, {SHIPPED.max_batch_size}); "
          f"keep-alive {args.keep_alive_s:g} s")
    out: dict[str, list[dict]] = {}
    for load in args.loads.split(","):
        n, arrival_s = LOADS[load]
        experts, workload = load_workload(n, arrival_s, 16, args.seed)
        counts = Counter(e for _, e, _ in workload)
        print(f"[{load}] requests per expert:", ", ".join(f"{e} {counts[e]}" for e in experts))
        specs = [SimSpec(f"bench-{i}", expert=e, replay=str(DATA.resolve()), time_scale=args.time_scale, seed=i) for i, e in enumerate(experts)]
        with start_simulators(specs, startup_timeout_s=120) as sims:
            config = make_config(sims, experts, args.time_scale, args.max_queue_wait_s, args.min_swap_batch)
            runners = {
                "fifo": run_fifo,
                "keepalive": lambda c, w, sc: run_keepalive(c, w, sc, args.keep_alive_s),
                "scheduler": run_scheduler,
                "offline": run_offline,
            }
            rows = []
            for mode in args.modes.split(","):
                rows.append(asyncio.run(runners[mode](config, workload, args.time_scale)))
                print(f"[{load}] {mode}: done in {rows[-1].total_s * args.time_scale:.1f} s real", flush=True)
        print_table(rows, f"{load}: {n} requests over {arrival_s:g} s, 16 experts, {AWAKE} awake (simulated seconds)")
        out[load] = [asdict(r) for r in rows]
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
