"""``make demo``: the whole product on this machine, no GPU.

1. validate experts.yaml and summarise the demo routing dataset;
2. train the two-level router on its train split (``orchestrator train``);
3. start one simulated vLLM server per expert (``orchestrator sim``), replaying recorded answers;
4. start the gateway (``orchestrator serve``) and send the test split through the official
   ``openai`` client with ``model="router/auto"``, printing decisions, latency and cost;
5. end with the offline evaluation report (``orchestrator eval``).

Every process is a real one on 127.0.0.1, started through the same CLI a user runs; ports are
picked free so the demo never collides with servers already running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import yaml
from rich.console import Console
from rich.table import Table

from orchestrator.config import server_root

REPO = Path(__file__).resolve().parents[2]
DEMO_DATA = Path(__file__).with_name("demo_routing.jsonl")
# Piped output (make demo | tee) would otherwise wrap tables at 80 columns.
console = Console(width=None if Console().is_terminal else 150)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _step(n: int, total: int, title: str) -> None:
    console.rule(f"[bold]{n}/{total}  {title}")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestrator", *args]


def _run(*args: str) -> None:
    result = subprocess.run(_cli(*args), cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"demo step failed: orchestrator {' '.join(args)} (exit {result.returncode})")


def _demo_config(workdir: Path, time_scale: float) -> Path:
    """experts.yaml with every expert and the gateway moved to free ports."""
    data = yaml.safe_load((REPO / "experts.yaml").read_text())
    for expert in data["experts"]:
        expert["api_base"] = f"http://127.0.0.1:{_free_port()}/v1"
    data["router"]["artifacts"] = str(workdir / "router")
    data["gateway"]["port"] = _free_port()
    data["gateway"].pop("api_keys_env", None)
    data.setdefault("simulator", {})["replay_dataset"] = str(DEMO_DATA)
    data["simulator"]["time_scale"] = time_scale
    path = workdir / "experts.demo.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@contextlib.contextmanager
def _background(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    fh = log.open("wb")
    proc = subprocess.Popen(_cli(*args), cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        fh.close()


def _wait_ready(urls: list[str], proc: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"a demo process exited early (exit {proc.returncode}); log:\n{log.read_text()[-3000:]}")
        still = []
        for url in pending:
            try:
                ok = httpx.get(url, timeout=2.0).status_code == 200
            except httpx.HTTPError:
                ok = False
            if not ok:
                still.append(url)
        pending = still
        if pending:
            time.sleep(0.3)
    if pending:
        raise SystemExit(f"not ready after {timeout:.0f}s: {', '.join(pending)}; log:\n{log.read_text()[-3000:]}")


_ANSWER = re.compile(r"answer is[:\s]*\(?([^\n.)]+)", re.IGNORECASE)


def _extract(text: str) -> str | None:
    found = _ANSWER.findall(text or "")
    return found[-1].strip() if found else None


async def _workload(base_url: str, rows: list[dict], concurrency: int, options: dict | None = None) -> list[dict]:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="demo", max_retries=0, timeout=120)
    gate = asyncio.Semaphore(concurrency)

    async def one(row: dict) -> dict:
        async with gate:
            t0 = time.perf_counter()
            raw = await client.chat.completions.with_raw_response.create(
                # No max_tokens: the gateway's default (1,024) leaves room for the experts' recorded lengths.
                model="router/auto",
                messages=[{"role": "user", "content": row["prompt"]}],
                extra_body={"orchestrator": options} if options else None,
            )
            reply = raw.parse()
            h = raw.headers
            return {
                "row": row,
                "latency_s": time.perf_counter() - t0,
                "category": h.get("x-orchestrator-category", "?"),
                "experts": h.get("x-orchestrator-experts", "?"),
                "aggregator": h.get("x-orchestrator-aggregator", "-"),
                "aggregation": h.get("x-orchestrator-aggregation", "-"),
                "cost_usd": float(h.get("x-orchestrator-cost-usd", "0") or 0),
                "answer": _extract(reply.choices[0].message.content or ""),
                "tokens": reply.usage.total_tokens if reply.usage else 0,
            }

    try:
        return await asyncio.gather(*(one(r) for r in rows))
    finally:
        await client.close()


def _report_workload(results: list[dict], title: str, rows_shown: int = 12) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("prompt", "category", "experts", "aggregation", "answer", "gold", "ms", "cost $"):
        table.add_column(col, overflow="ellipsis", no_wrap=True, max_width=40 if col == "prompt" else None)
    for r in results[:rows_shown]:
        row = r["row"]
        table.add_row(
            row["prompt"].splitlines()[0][:60],
            r["category"],
            r["experts"],
            r["aggregation"] if r["aggregator"] in ("none", "-") else f"{r['aggregation']} by {r['aggregator']}",
            str(r["answer"]),
            str(row.get("gold")),
            f"{r['latency_s'] * 1000:.0f}",
            f"{r['cost_usd']:.6f}",
        )
    console.print(table)
    graded = [r for r in results if r["row"].get("gold") is not None]
    correct = sum(1 for r in graded if r["answer"] is not None and r["answer"].strip().lower() == str(r["row"]["gold"]).lower())
    lat = sorted(r["latency_s"] for r in results)
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
    console.print(
        f"{len(results)} requests, none lost; answer matches gold on {correct}/{len(graded)} gradable prompts "
        f"({correct / max(1, len(graded)):.1%}); latency p50 {statistics.median(lat) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; "
        f"total cost ${sum(r['cost_usd'] for r in results):.5f}; {sum(r['tokens'] for r in results)} tokens",
        highlight=False,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the end-to-end demo on simulated vLLM experts.")
    parser.add_argument("--workdir", type=Path, default=REPO / "runs" / "demo")
    parser.add_argument("--time-scale", type=float, default=0.1, help="simulated latency multiplier")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--report", type=Path, default=REPO / "reports" / "demo")
    args = parser.parse_args(argv)

    total = 5
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    config = _demo_config(args.workdir, args.time_scale)

    _step(1, total, "composition and routing data")
    _run("config", "validate", str(REPO / "experts.yaml"))
    _run("data", "inspect", str(DEMO_DATA))

    _step(2, total, "train the two-level router on the train split")
    _run("train", "--data", str(DEMO_DATA), "--config", str(config), "--out", str(args.workdir / "router"))

    import json

    rows = [json.loads(line) for line in DEMO_DATA.read_text().splitlines()]
    test_rows = [r for r in rows if r["split"] == "test"]
    cfg = yaml.safe_load(config.read_text())
    expert_health = [server_root(e["api_base"]) + "/health" for e in cfg["experts"]]
    gateway = f"http://127.0.0.1:{cfg['gateway']['port']}"

    _step(3, total, f"start {len(expert_health)} simulated vLLM experts")
    with _background(["sim", "--config", str(config)], args.workdir / "sim.log") as sim:
        _wait_ready(expert_health, sim, args.workdir / "sim.log")
        console.print(f"{len(expert_health)} experts healthy: " + ", ".join(e["name"] for e in cfg["experts"]), highlight=False)

        _step(4, total, f"gateway + {len(test_rows)} routed requests through the openai client")
        serve_args = ["serve", "--config", str(config), "--artifacts", str(args.workdir / "router"), "--port", str(cfg["gateway"]["port"])]
        with _background(serve_args, args.workdir / "gateway.log") as gw:
            _wait_ready([f"{gateway}/ready"], gw, args.workdir / "gateway.log")
            t0 = time.perf_counter()
            results = asyncio.run(_workload(f"{gateway}/v1", test_rows, args.concurrency))
            console.print(f"workload took {time.perf_counter() - t0:.1f}s at concurrency {args.concurrency}", highlight=False)
            _report_workload(results, "routed requests, router's own k (first 12)")
            # Ask for three experts on a sample of each category: consensus, vote or synthesis.
            sample = [next(r for r in test_rows if r["category"] == c) for c in sorted({r["category"] for r in test_rows})]
            ensemble = asyncio.run(_workload(f"{gateway}/v1", sample, args.concurrency, {"k": 3}))
            _report_workload(ensemble, "the same gateway with k=3 per request (extra_body orchestrator.k)")
            metrics = httpx.get(f"{gateway}/metrics", timeout=5).text
            console.print(
                f"gateway /metrics exposes {sum(1 for ln in metrics.splitlines() if ln and not ln.startswith('#'))} samples",
                highlight=False,
            )

    _step(5, total, "offline evaluation of routing policies on the test split")
    _run("eval", "--data", str(DEMO_DATA), "--config", str(config), "--artifacts", str(args.workdir / "router"), "--out", str(args.report))
    console.print(f"report: {args.report / 'report.md'} (plots beside it)", highlight=False)


if __name__ == "__main__":
    main()
