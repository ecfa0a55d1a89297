"""The gateway's CPU per request, routed k=1 against pass-through, in one process: the quantity
that sets the routed/pass-through throughput ratio when the gateway's core is the bottleneck
(bench/bench_gateway_overhead.py), measured without the host's noise of a closed loop.

The real app (`create_app`: its lifespan, scheduler, expert client, pipeline and static-tier
router trained on the demo train split) with only the expert network replaced
(`httpx.MockTransport` answering instantly), driven through `httpx.ASGITransport` at
``--concurrency`` on uvloop, as `orchestrator serve` runs. CPU is `time.process_time` per request (the driving client's share included,
the same for both rows); garbage-collector time is summed from `gc.callbacks`. Rounds interleave
the two kinds; each row reports its median round.

    .venv/bin/python bench/bench_gateway_cpu.py [--requests 1500] [--rounds 3] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_pipeline_load import ROUTER_DIR, ensure_router  # noqa: E402
from orchestrator.config import load_config  # noqa: E402
from orchestrator.experts.client import ExpertClient  # noqa: E402
from orchestrator.router.dials import load_configured  # noqa: E402
from services.gateway.app import create_app  # noqa: E402

MESSAGES = [{"role": "user", "content": "Summarise the benefits of unit tests in one sentence."}]
BODIES = {
    "pass-through": {"model": "qwen2.5-7b-instruct", "messages": MESSAGES, "max_tokens": 16},
    "router/auto k=1 static": {"model": "router/auto", "messages": MESSAGES, "max_tokens": 16, "orchestrator": {"k": 1}},
}


def instant_expert(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(200, json={
        "id": "cmpl-bench", "object": "chat.completion", "created": 0, "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "The answer is (B)."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18},
    })  # fmt: skip


class GcClock:
    """Collector time and collections, from CPython's gc callbacks."""

    def __init__(self) -> None:
        self.seconds, self.collections, self._t0 = 0.0, 0, 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._t0
            self.collections += 1

    def reset(self) -> None:
        self.seconds, self.collections = 0.0, 0


async def load(client: httpx.AsyncClient, body: dict, n: int, concurrency: int) -> int:
    gate = asyncio.Semaphore(concurrency)
    errors = 0

    async def one() -> None:
        nonlocal errors
        async with gate:
            r = await client.post("/v1/chat/completions", json=body)
            errors += r.status_code != 200

    await asyncio.gather(*(one() for _ in range(n)))
    return errors


async def run(args: argparse.Namespace) -> None:
    config_path = REPO / "experts.yaml"
    ensure_router(config_path)
    config = load_config(config_path)
    config = config.model_copy(update={
        "scheduler": config.scheduler.model_copy(update={"gpu_memory_budget_gb": None}),  # all awake: no swaps
        "gateway": config.gateway.model_copy(update={"rate_limit_rpm": 10_000_000}),
    })  # fmt: skip
    router, _ = load_configured(ROUTER_DIR, config.router, tier="static")
    app = create_app(config, router=router, client=ExpertClient(config, http_client=httpx.AsyncClient(transport=httpx.MockTransport(instant_expert))))
    clock = GcClock()
    rows: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in BODIES}
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        for body in BODIES.values():  # warm-up: connections, the router's first batches, the graph variants
            await load(client, body, 200, args.concurrency)
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}: {args.requests} requests per kind, {args.concurrency} at a time", flush=True)
            for name, body in BODIES.items():
                clock.reset()
                cpu0 = time.process_time()
                errors = await load(client, body, args.requests, args.concurrency)
                cpu = time.process_time() - cpu0
                rows[name].append((1000 * cpu / args.requests, 1000 * clock.seconds / args.requests, clock.collections / args.requests, errors))
    print(f"\n{'kind':<26}{'cpu ms/req':>12}{'gc ms/req':>11}{'gc runs/req':>13}{'errors':>8}   rounds (cpu ms/req)")
    medians = {}
    for name, rs in rows.items():
        cpu = statistics.median(x[0] for x in rs)
        medians[name] = cpu
        print(f"{name:<26}{cpu:12.3f}{statistics.median(x[1] for x in rs):11.3f}{statistics.median(x[2] for x in rs):13.3f}"
              f"{sum(x[3] for x in rs):8d}   {', '.join(f'{x[0]:.3f}' for x in rs)}")
    passthrough, routed = medians.values()
    print(f"\nCPU per request, pass-through / routed: {passthrough / routed:.2f} (in-process; the driving client's share is in both rows)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=1500, help="requests per kind and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16)
    import uvloop  # the event loop `orchestrator serve` runs on

    uvloop.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
