"""Router latency: one query end to end (embedding included) and batched throughput, per tier.

Tiers, side by side in one run:
- ``minilm``: the packaged all-MiniLM-L6-v2 (torch, default threads);
- ``minilm-1t``: the same with torch limited to one thread (less contention on a busy box);
- ``static``: the static token tier distilled from MiniLM (no torch at query time).

Every single query is a distinct prompt, so the embedder's LRU cache never answers.

    .venv/bin/python bench/bench_routing_latency.py [--file routerbench3] [--n 300] [--batch 512] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT / ".." / "shared" / "data"

from orchestrator.data import load_dataset  # noqa: E402
from orchestrator.embeddings import Embedder  # noqa: E402
from orchestrator.router import TwoLevelRouter  # noqa: E402
from orchestrator.router.static_tier import StaticEmbedder  # noqa: E402
from router_training.embedding_cache import cached_embeddings  # noqa: E402
from router_training.static_distill import distil_static_tier  # noqa: E402


def single(router: TwoLevelRouter, prompts: list[str]) -> np.ndarray:
    router.route([prompts[0] + " warm-up"])
    out = []
    for p in prompts:
        t = time.perf_counter()
        router.route([p])
        out.append(time.perf_counter() - t)
    return np.array(out) * 1000


def batched(router: TwoLevelRouter, prompts: list[str]) -> float:
    t = time.perf_counter()
    router.route(prompts)
    return len(prompts) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default="routerbench3")
    ap.add_argument("--n", type=int, default=300, help="single queries per tier")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--data-dir", type=Path, default=SHARED, help="the shared data folder")
    args = ap.parse_args()
    ds = load_dataset(args.data_dir / "routing" / f"{args.file}.jsonl")
    emb = Embedder()
    X = cached_embeddings(ds.prompts, emb)
    tr = np.array([s == "train" for s in ds.splits])
    train, test = ds.subset(np.flatnonzero(tr)), ds.subset(np.flatnonzero(~tr))
    router = TwoLevelRouter(embedder=emb).fit(train, embeddings=X[tr])
    static = StaticEmbedder(distil_static_tier(emb, train.prompts, X[tr]), base=emb)
    rng = np.random.default_rng(0)
    import torch

    default_threads = torch.get_num_threads()
    results = []
    for tier in ("minilm", "minilm-1t", "static"):
        router.embedder = static if tier == "static" else emb
        torch.set_num_threads(1 if tier == "minilm-1t" else default_threads)
        # Distinct prompts per tier (a random suffix), so the embedder's LRU cache never answers.
        prompts = [f"{test.prompts[i % len(test)]} #{tier}-{rng.integers(1e9)}" for i in range(max(args.n, args.batch))]
        ms = single(router, prompts[: args.n])
        qps = batched(router, prompts[: args.batch])
        results.append((tier, float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), qps))
    torch.set_num_threads(default_threads)
    base = results[0]
    print(f"\n## router latency on {args.file} ({len(train)} training rows, {len(ds.experts)} experts), two_level mode")
    print("| tier | single p50 ms | single p99 ms | batched queries/s | p50 vs minilm | throughput vs minilm |\n|---|---|---|---|---|---|")
    for tier, p50, p99, qps in results:
        print(f"| {tier} | {p50:.2f} | {p99:.2f} | {qps:.0f} | {p50 / base[1]:.2f}x | {qps / base[3]:.2f}x |")


if __name__ == "__main__":
    main()
