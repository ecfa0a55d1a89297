"""Time to first token of a routed k=1 stream vs a direct pass-through stream, side by side.

Claim: ``router/auto`` with one expert streams that expert's tokens as they are generated, so
its time to first token is within a few milliseconds of passing the request straight through.

    .venv/bin/python bench/bench_stream_ttft.py [--requests 200] [--time-scale 0] [--router-tier static]

Seven simulated experts (experts.yaml, shipped defaults except the memory budget, which is
lifted so no swap happens: this measures routing and streaming, not residency) behind
``orchestrator serve`` with the router trained on the demo train split. Per request, in turn:
the simulator directly (no gateway), the gateway passing through to ``qwen2.5-7b-instruct``,
and the gateway routing with ``router/auto``, ``orchestrator.k = 1``. Prompts are the demo test
split with a unique suffix (no embedding cache hits). TTFT = request sent -> first SSE chunk
with content; errors (non-200, missing content) are counted, never dropped.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_pipeline_load import demo_prompts, demo_stack  # noqa: E402

EXPERT = "qwen2.5-7b-instruct"


def first_token_s(http: httpx.Client, url: str, body: dict) -> tuple[float, float] | None:
    """(TTFT, total) of one streamed chat completion, or None when it failed."""
    started = time.perf_counter()
    ttft = None
    with http.stream("POST", url, json={**body, "stream": True}) as response:
        if response.status_code != 200:
            return None
        for line in response.iter_lines():
            if ttft is None and line.startswith("data: {"):
                choices = json.loads(line[6:]).get("choices") or [{}]
                if choices[0].get("delta", {}).get("content"):
                    ttft = time.perf_counter() - started
    return (ttft, time.perf_counter() - started) if ttft is not None else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=200, help="streams per target")
    ap.add_argument("--time-scale", type=float, default=0.0, help="simulator delays (0 = instant experts: the difference is ours)")
    ap.add_argument("--router-tier", choices=("minilm", "static"), default="static")
    ap.add_argument("--max-tokens", type=int, default=32)
    args = ap.parse_args()
    prompts = itertools.cycle(demo_prompts("test"))
    with demo_stack(time_scale=args.time_scale, router_tier=args.router_tier) as (gw, config):
        sim_base = next(e["api_base"] for e in config["experts"] if e["name"] == EXPERT)
        served = next(e["model"].split("/", 1)[1] for e in config["experts"] if e["name"] == EXPERT)
        targets = {
            "simulator directly": (f"{sim_base}/chat/completions", {"model": served}),
            "gateway pass-through": (f"{gw.url}/v1/chat/completions", {"model": EXPERT}),
            f"gateway router/auto k=1 ({args.router_tier})": (f"{gw.url}/v1/chat/completions", {"model": "router/auto", "orchestrator": {"k": 1}}),
        }
        ttft: dict[str, list[float]] = {name: [] for name in targets}
        total: dict[str, list[float]] = {name: [] for name in targets}
        errors = dict.fromkeys(targets, 0)
        with httpx.Client(timeout=60) as http:
            for i in range(args.requests + 10):
                prompt = f"{next(prompts)} (#{i})"
                for name, (url, extra) in targets.items():  # interleaved: every target sees the same noise
                    body = {**extra, "messages": [{"role": "user", "content": prompt}], "max_tokens": args.max_tokens}
                    result = first_token_s(http, url, body)
                    if i < 10:
                        continue  # warm-up: connections, the embedding model's first calls
                    if result is None:
                        errors[name] += 1
                    else:
                        ttft[name].append(result[0])
                        total[name].append(result[1])
    base = np.percentile(ttft["gateway pass-through"], 50)
    print(f"\n{args.requests} streams per target, max_tokens {args.max_tokens}, simulator time scale {args.time_scale:g}")
    print(f"{'target':<36}{'TTFT p50 ms':>12}{'TTFT p99 ms':>12}{'vs pass-through p50':>21}{'total p50 ms':>14}{'errors':>8}")
    for name in targets:
        t = np.asarray(ttft[name]) * 1000
        p50, p99 = (np.percentile(t, 50), np.percentile(t, 99)) if len(t) else (float("nan"), float("nan"))
        tot = np.percentile(np.asarray(total[name]) * 1000, 50) if total[name] else float("nan")
        print(f"{name:<36}{p50:12.2f}{p99:12.2f}{p50 - base * 1000:+20.2f} {tot:14.2f}{errors[name]:8d}")


if __name__ == "__main__":
    main()
