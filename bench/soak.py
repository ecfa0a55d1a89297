"""Soak test: mixed traffic against the full stack with injected expert faults.

    .venv/bin/python bench/soak.py [--minutes 10] [--clients 16] [--time-scale 0.05]

Experts fail on purpose (HTTP 500s, connections dropped mid-answer, stalls past the expert
timeout). Traffic mixes routed and direct, streamed and plain completions, /v1/route and
/v1/models. Pass criterion: zero lost requests, i.e. every request gets a complete answer:
a 200 (a stream ending in ``[DONE]``) or an OpenAI-style error envelope, never a dropped
connection, a timeout or a malformed body. The gateway's RSS is sampled every minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline_load import demo_prompts, demo_stack  # noqa: E402

FAULTS = {
    "qwen2.5-7b-instruct": {"error_rate": 0.05},
    "llama-3.1-8b-instruct": {"drop_rate": 0.05},
    "gemma-2-9b-it": {"stall_rate": 0.03, "stall_s": 6.0},
    "qwen2.5-math-7b-instruct": {"error_rate": 0.02, "drop_rate": 0.02},
}
EXPERTS = ["qwen2.5-7b-instruct", "llama-3.1-8b-instruct", "qwen2.5-math-7b-instruct", "gemma-2-9b-it"]
MIX = [("routed", 50), ("routed-stream", 15), ("direct", 15), ("direct-stream", 10), ("route", 5), ("models", 5)]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _request(kind: str, prompt: str, rng: random.Random) -> tuple[str, str, dict | None]:
    messages = [{"role": "user", "content": prompt}]
    if kind == "models":
        return "GET", "/v1/models", None
    if kind == "route":
        return "POST", "/v1/route", {"prompt": prompt}
    model = "router/auto" if kind.startswith("routed") else rng.choice(EXPERTS)
    body = {"model": model, "messages": messages, "max_tokens": 128}
    if kind.endswith("stream"):
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return "POST", "/v1/chat/completions", body


def _complete(kind: str, r: httpx.Response) -> bool:
    """A complete answer: a JSON body (result or error envelope), or a stream ending in [DONE]."""
    if r.status_code == 200 and kind.endswith("stream"):
        return r.text.rstrip().endswith("data: [DONE]")
    try:
        body = r.json()
    except json.JSONDecodeError:
        return False
    return r.status_code == 200 or (isinstance(body.get("error"), dict) and body["error"].get("code") == r.status_code)


async def soak(url: str, prompts: list[str], clients: int, seconds: float, pid: int) -> None:
    rng = random.Random(0)
    kinds, weights = zip(*MIX)
    outcomes: Counter[tuple[str, str]] = Counter()
    lost: list[str] = []
    rss = [(0.0, rss_mb(pid))]
    started = time.monotonic()
    deadline = started + seconds

    async def client(http: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            method, path, body = _request(kind, rng.choice(prompts), rng)
            try:
                r = await http.request(method, f"{url}{path}", json=body)
            except httpx.HTTPError as exc:
                lost.append(f"{kind}: {type(exc).__name__}: {exc}")
                continue
            if not _complete(kind, r):
                lost.append(f"{kind}: incomplete answer (HTTP {r.status_code}): {r.text[-200:]!r}")
                continue
            stream_error = kind.endswith("stream") and '"error"' in r.text
            outcomes[(kind, "stream-error" if stream_error else str(r.status_code))] += 1

    async def sample_rss() -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(min(60.0, max(0.0, deadline - time.monotonic())))
            rss.append((time.monotonic() - started, rss_mb(pid)))

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=clients)) as http:
        await asyncio.gather(sample_rss(), *(client(http) for _ in range(clients)))
    elapsed = time.monotonic() - started
    total = sum(outcomes.values()) + len(lost)
    print(f"\n{total} requests in {elapsed:.0f} s ({total / elapsed:.1f}/s), {clients} clients")
    print(f"{'kind':<16}{'outcome':<14}{'count':>8}")
    for (kind, outcome), n in sorted(outcomes.items()):
        print(f"{kind:<16}{outcome:<14}{n:8d}")
    ok = sum(n for (_, outcome), n in outcomes.items() if outcome == "200")
    errors = total - ok - len(lost)
    # An error response is an answer (the client hears why), but a failed request all the same.
    print(f"successful (200, complete): {ok} ({ok / max(total, 1):.2%}); error responses: {errors} ({errors / max(total, 1):.2%})")
    print(f"lost requests: {len(lost)}")
    for line in lost[:10]:
        print("  ", line)
    print("gateway RSS (MB) by minute: " + ", ".join(f"{t / 60:.0f}m {mb:.0f}" for t, mb in rss))
    print(f"RSS start {rss[0][1]:.0f} MB, end {rss[-1][1]:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--time-scale", type=float, default=0.05)
    args = ap.parse_args()
    prompts = demo_prompts("test")
    overrides = {"timeout_s": 2.0, "max_retries": 1}
    with demo_stack(time_scale=args.time_scale, faults=FAULTS, expert_overrides=overrides) as (gw, _):
        assert gw.process is not None
        print(f"faults: {FAULTS}")
        asyncio.run(soak(gw.url, prompts, args.clients, args.minutes * 60, gw.process.pid))
        metrics = httpx.get(f"{gw.url}/metrics").text
        print("\n".join(line for line in metrics.splitlines() if line.startswith(("orchestrator_fallbacks_total", "orchestrator_errors_total"))))


if __name__ == "__main__":
    main()
