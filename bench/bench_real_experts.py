"""Real small instruct models on vLLM's CPU build: speed, memory, and the gateway in front of them.

    flock /tmp/bench.lock .venv/bin/python bench/bench_real_experts.py [--requests 8] [--profile runs/demo-real/profile.jsonl]

Needs the real experts running (``make real``: ``orchestrator models prepare -c experts.real.yaml``).
Per model, measured one model at a time (the other idle): time to first token (streaming,
median of ``--requests``), decode tokens/s of one request and the aggregate at 8 concurrent
requests (``ignore_eos`` so every request makes ``--tokens`` tokens), and the RSS of the
server's whole process group (API server + engine core). Then, in the same run, the gateway's
added latency in front of real vLLM: the same short greedy request sent directly and through
the gateway (the expert's own name: pass-through, no routing), interleaved request by request.
With ``--profile`` it also prints accuracy per category from a recorded profile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestrator.config import load_config  # noqa: E402
from services.gateway.launcher import GatewayProcess  # noqa: E402
from services.vllm_cpu.server import running  # noqa: E402

PROMPT = "Write a short paragraph about the sea."


def _rss_gb(pgid: int) -> float:
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            with open(f"/proc/{pid}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError):
            continue
    return total / 1024 / 1024


async def _one(client: httpx.AsyncClient, url: str, model: str, tokens: int) -> tuple[float, float, int]:
    """(ttft_s, total_s, completion tokens) of one streamed request."""
    body = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": tokens, "temperature": 0,
            "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}  # fmt: skip
    t0 = time.perf_counter()
    ttft, n = None, 0
    async with client.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line.endswith("[DONE]"):
                continue
            chunk = json.loads(line[6:])
            if ttft is None and chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
                ttft = time.perf_counter() - t0
            if chunk.get("usage"):
                n = chunk["usage"]["completion_tokens"]
    return ttft or 0.0, time.perf_counter() - t0, n


async def _speed(url: str, model: str, requests: int, tokens: int) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=600) as client:
        await _one(client, url, model, 4)  # warm-up
        singles = [await _one(client, url, model, tokens) for _ in range(requests)]
        t0 = time.perf_counter()
        batch = await asyncio.gather(*(_one(client, url, model, tokens) for _ in range(8)))
        wall = time.perf_counter() - t0
    decode = [n / max(1e-9, total - ttft) for ttft, total, n in singles]
    return {"ttft_ms": statistics.median(t for t, _, _ in singles) * 1000, "tok_s_1": statistics.median(decode),
            "tok_s_8": sum(n for _, _, n in batch) / wall, "ttft_ms_8": statistics.median(t for t, _, _ in batch) * 1000}  # fmt: skip


async def _latency(targets: dict[str, tuple[str, str]], n: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    async with httpx.AsyncClient(timeout=300) as client:
        for i in range(n + 1):
            for name, (url, model) in targets.items():
                body = {"model": model, "messages": [{"role": "user", "content": "What is the capital of France?"}],
                        "max_tokens": 8, "temperature": 0}  # fmt: skip
                t0 = time.perf_counter()
                r = await client.post(f"{url}/v1/chat/completions", json=body)
                dt = time.perf_counter() - t0
                if r.status_code != 200:
                    raise SystemExit(f"{name}: HTTP {r.status_code}: {r.text[:200]}")
                if i:  # the first round warms connections
                    out[name].append(dt)
    return out


def _accuracy(profile: Path) -> None:
    rows = [json.loads(line) for line in profile.read_text().splitlines()]
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        for name, o in row["experts"].items():
            per[name][row["category"]].append(o["score"])
            per[name]["ALL"].append(o["score"])
    cats = sorted({c for d in per.values() for c in d if c != "ALL"}) + ["ALL"]
    print(f"\naccuracy per category on {profile} ({len(rows)} questions)")
    print(f"{'model':<22}" + "".join(f"{c:>11}" for c in cats))
    for name, d in per.items():
        print(f"{name:<22}" + "".join(f"{statistics.mean(d[c]):>11.2f}" for c in cats))
    oracle = statistics.mean(max(o["score"] for o in r["experts"].values()) for r in rows)
    print(f"{'oracle':<22}" + f"{oracle:>{11 * len(cats)}.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(REPO / "experts.real.yaml"))
    ap.add_argument("--requests", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--latency-requests", type=int, default=20)
    ap.add_argument("--artifacts", default=None, help="router artifacts for the gateway (optional)")
    ap.add_argument("--profile", type=Path, default=None)
    args = ap.parse_args()
    config = load_config(args.config)
    servers = {e.name: (running(e.name), e) for e in config.experts if e.weights is not None}
    missing = [n for n, (s, _) in servers.items() if s is None or not s.healthy()]
    if missing:
        raise SystemExit(f"not serving: {', '.join(missing)} (run `make real` first)")
    print(f"{'model':<22}{'TTFT ms':>9}{'tok/s 1':>9}{'tok/s @8':>10}{'TTFT@8 ms':>11}{'RSS GB':>8}")
    for name, (server, expert) in servers.items():
        s = asyncio.run(_speed(server.url, expert.served_name, args.requests, args.tokens))
        print(f"{name:<22}{s['ttft_ms']:>9.0f}{s['tok_s_1']:>9.1f}{s['tok_s_8']:>10.1f}{s['ttft_ms_8']:>11.0f}{_rss_gb(server.pid):>8.2f}", flush=True)

    name, (server, expert) = next(iter(servers.items()))
    with GatewayProcess(args.config, artifacts=args.artifacts, ready_path="/health") as gw:
        lat = asyncio.run(_latency({"direct": (server.url, expert.served_name), "gateway": (gw.url, name)}, args.latency_requests))
    d, g = statistics.median(lat["direct"]), statistics.median(lat["gateway"])
    print(f"\ngateway in front of real vLLM ({name}, 8-token greedy answers, {args.latency_requests} interleaved each):")
    print(f"  direct median {d * 1000:.1f} ms, through the gateway {g * 1000:.1f} ms: +{(g - d) * 1000:.1f} ms ({g / d:.3f}x)")
    if args.profile is not None:
        _accuracy(args.profile)


if __name__ == "__main__":
    main()
