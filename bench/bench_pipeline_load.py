"""Full pipeline under load: router + k=3 experts + aggregation at 50 concurrent clients.

    .venv/bin/python bench/bench_pipeline_load.py [--clients 50] [--seconds 20] [--time-scale 0]

Seven simulated experts (experts.yaml, answers replayed from the demo routing dataset) behind
``orchestrator serve`` with a router trained on the demo train split (cached under
``artifacts/bench-router``). Three workloads run side by side on the same stack and prompts
(the demo test split): one expert directly through the gateway (no routing), ``router/auto``
with k=1, and ``router/auto`` with k=3 plus aggregation. Reported: requests/s, p50/p99
latency, and the share of server time spent routing (classify + recruit, from the trace).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.expert_sim.launcher import SimSpec, start_simulators  # noqa: E402
from services.gateway.launcher import GatewayProcess  # noqa: E402

DEMO = REPO / "orchestrator" / "demo" / "demo_routing.jsonl"
ROUTER_DIR = REPO / "artifacts" / "bench-router"


def ensure_router(config_path: Path, out: Path = ROUTER_DIR) -> Path:
    """Train the two-level router on the demo train split once (with the static tier distilled
    from MiniLM on the same prompts); reuse the artifacts afterwards."""
    from orchestrator.config import load_config
    from orchestrator.data import load_dataset
    from orchestrator.router import TwoLevelRouter

    if (out / "manifest.json").exists():
        return out
    print(f"training the router on {DEMO.name} (train split) -> {out}")
    from orchestrator.router.text import query_views
    from router_training.static_distill import distil_static_tier

    train = load_dataset(DEMO).split("train")
    router = TwoLevelRouter().fit(train, config=load_config(config_path))
    embedder = router._get_embedder()
    views = query_views(list(train.prompts))
    router.static_tier_ = distil_static_tier(embedder, views, embedder.encode(views))
    router.save(out)
    return out


def demo_prompts(split: str = "test") -> list[str]:
    from orchestrator.data import load_dataset

    return list(load_dataset(DEMO).split(split).prompts)


@contextlib.contextmanager
def demo_stack(*, time_scale: float = 0.0, faults: dict[str, dict] | None = None, gateway: dict | None = None,
               expert_overrides: dict | None = None, router_tier: str | None = None) -> Iterator[tuple[GatewayProcess, dict]]:  # fmt: skip
    """Simulators for every expert in experts.yaml + a trained router + ``orchestrator serve``."""
    base = yaml.safe_load((REPO / "experts.yaml").read_text())
    faults = faults or {}
    specs = [
        SimSpec(
            e["model"].split("/", 1)[1], expert=e["name"], replay=DEMO, time_scale=time_scale, params_b=e.get("params_b"),
            **faults.get(e["name"], {}),
        )
        for e in base["experts"]
    ]  # fmt: skip
    with start_simulators(specs) as sims:
        for e, sim in zip(base["experts"], sims):
            e["api_base"] = sim.api_base
            e.update(expert_overrides or {})
        base["scheduler"]["gpu_memory_budget_gb"] = None  # all awake: measure routing, not swaps
        base["router"]["artifacts"] = str(ROUTER_DIR)
        base["gateway"] = {"rate_limit_rpm": 10_000_000, **(gateway or {})}
        base["simulator"]["replay_dataset"] = str(DEMO)
        path = Path(tempfile.mkdtemp(prefix="pipeline-bench-")) / "experts.yaml"
        path.write_text(yaml.safe_dump(base, sort_keys=False))
        ensure_router(path)
        with GatewayProcess(path, ready_path="/ready", router_tier=router_tier, log_level="warning") as gw:
            yield gw, base


@dataclass
class Workload:
    name: str
    model: str
    options: dict | None = None
    latencies: list[float] = field(default_factory=list)
    routing: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    def body(self, prompt: str) -> dict:
        body: dict = {"model": self.model, "messages": [{"role": "user", "content": prompt}], "max_tokens": 256}
        if self.options is not None:
            body["orchestrator"] = {**self.options, "trace": True}
        return body


async def run_workload(url: str, w: Workload, prompts: list[str], clients: int, seconds: float) -> None:
    # A unique suffix per request: real traffic repeats few prompts, so no embedding-cache hits.
    cycle = (f"{p} (#{i})" for i, p in enumerate(itertools.cycle(prompts)))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    r = await http.post(f"{url}/v1/chat/completions", json=w.body(next(cycle)))
                except httpx.HTTPError:
                    w.errors += 1
                    continue
                if r.status_code != 200:
                    w.errors += 1
                    continue
                w.latencies.append(time.perf_counter() - start)
                trace = r.json().get("trace")
                if trace:
                    events = trace["events"]
                    w.routing.append(sum(e["duration_ms"] for e in events if e["step"] == "classify") / 1000)
                    w.server.append(sum(e["duration_ms"] for e in events if e["step"] in ("classify", "retrieval", "dispatch", "aggregate", "verify", "respond")) / 1000)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        w.seconds = time.perf_counter() - started


def report(workloads: list[Workload]) -> None:
    base = workloads[0]
    base_rps = len(base.latencies) / base.seconds
    print(f"\n{'workload':<34}{'req/s':>8}{'vs direct':>10}{'p50 ms':>9}{'p99 ms':>9}{'routing share':>15}{'errors':>8}")
    for w in workloads:
        rps = len(w.latencies) / w.seconds if w.seconds else 0.0
        p50 = np.percentile(w.latencies, 50) * 1000 if w.latencies else float("nan")
        p99 = np.percentile(w.latencies, 99) * 1000 if w.latencies else float("nan")
        share = f"{sum(w.routing) / sum(w.latencies):.1%}" if w.routing else "-"
        print(f"{w.name:<34}{rps:8.1f}{rps / base_rps:9.2f}x{p50:9.1f}{p99:9.1f}{share:>15}{w.errors:8d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--time-scale", type=float, default=0.0, help="simulator delays (0 = instant experts: measures our overhead)")
    ap.add_argument("--router-tier", choices=("static", "minilm"), default="static", help="router embedding tier (static: the default)")
    args = ap.parse_args()
    prompts = demo_prompts("test")
    with demo_stack(time_scale=args.time_scale, router_tier=args.router_tier) as (gw, _):
        workloads = [
            Workload("direct: one expert, no routing", "qwen2.5-7b-instruct"),
            Workload("router/auto, k=1", "router/auto", {"k": 1}),
            Workload("router/auto, k=3 + aggregation", "router/auto", {"k": 3}),
        ]
        for w in workloads:
            print(f"{w.name}: {args.clients} clients, {args.seconds:g} s")
            asyncio.run(run_workload(gw.url, w, prompts, args.clients, args.seconds))
        metrics = httpx.get(f"{gw.url}/metrics").text
        report(workloads)
        agg = [line for line in metrics.splitlines() if line.startswith("orchestrator_aggregations_total")]
        print("\naggregation outcomes:", "; ".join(agg))


if __name__ == "__main__":
    main()
