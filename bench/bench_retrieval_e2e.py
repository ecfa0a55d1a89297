"""Retrieval gating end to end through the gateway, against the recorded outcomes.

    flock /tmp/bench.lock .venv/bin/python bench/bench_retrieval_e2e.py [--per-dataset 20] [--gate artifacts/retrieval-gate]

What runs: an expert simulator for ``llama-3.1-8b-instruct`` that replays the recorded answers of
``retrieval/adaptive_rag_llama8b.jsonl`` (the no-retrieval answer for a bare question; the
single-retrieval answer when the prompt carries retrieved passages at step 1; the multi-step
answer at step 2+), the passages of the sampled HotpotQA/2Wiki rows ingested into an embedded
index, and ``orchestrator serve`` with retrieval enabled and the trained gate. Each sampled test
question goes through ``router/auto`` (k=1, the expert pinned) with ``retrieval`` auto, always
and never; the answer's ``The answer is X.`` is scored by exact match against the gold answers.
The same gate replayed offline on the same rows must give the same numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import string
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.expert_sim.launcher import SimSpec, start_simulators  # noqa: E402
from services.gateway.launcher import GatewayProcess  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "retrieval" / "adaptive_rag_llama8b.jsonl"
DEMO = REPO / "orchestrator" / "demo" / "demo_routing.jsonl"
EXPERT, OTHER = "llama-3.1-8b-instruct", "qwen2.5-7b-instruct"
STRATEGIES = ("no_retrieval", "single", "multi")


def normalise(text: str) -> str:
    """SQuAD-style: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def final_answer(text: str) -> str:
    m = re.search(r"The answer is (.*)\.\s*$", text.strip(), re.S)
    return m.group(1) if m else text


def sample(rows: list[dict], per_dataset: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    by: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if r["split"] == "test":
            by[r["dataset"]].append(r)
    out = []
    for d in sorted(by):
        idx = rng.choice(len(by[d]), size=min(per_dataset, len(by[d])), replace=False)
        out.extend(by[d][i] for i in sorted(idx))
    return out


def write_replay(rows: list[dict], path: Path) -> None:
    """A routing-format file: per question, the recorded answer of each strategy under its replay key."""
    from orchestrator.retrieval.prompt import replay_key

    with path.open("w") as fh:
        for r in rows:
            for s in STRATEGIES:
                fh.write(json.dumps({"id": f"{r['id']}:{s}", "prompt": replay_key(r["question"], s), "task": r["dataset"], "category": "qa",
                                     "experts": {EXPERT: {"score": float(r["correct"][s]), "answer": r["answers"][s] or "unknown"}}}) + "\n")


def ingest_passages(rows: list[dict], settings, embedder) -> tuple[int, float]:
    from orchestrator.retrieval.documents import Document
    from orchestrator.retrieval.index import open_index

    docs = []
    for r in rows:
        for i, p in enumerate(r.get("passages") or []):
            text = p["text"]
            docs.append(Document(f"{r['id']}#{i}", p["title"], text, hashlib.sha256(text.encode()).hexdigest()))
    t0 = time.perf_counter()
    open_index(settings, "passages", embedder, create=True).add(docs)
    return len(docs), time.perf_counter() - t0


def train_router(config_path: Path, out: Path) -> None:
    from orchestrator.config import load_config
    from orchestrator.data import load_dataset
    from orchestrator.router import TwoLevelRouter

    TwoLevelRouter().fit(load_dataset(DEMO).split("train"), config=load_config(config_path)).save(out)


async def ask(http: httpx.AsyncClient, url: str, question: str, mode: str) -> dict:
    body = {"model": "router/auto", "messages": [{"role": "user", "content": question}], "max_tokens": 256,
            "orchestrator": {"k": 1, "experts": [EXPERT], "retrieval": mode, "trace": True}}
    resp = await http.post(url, json=body)
    if resp.status_code != 200:
        return {"error": f"HTTP {resp.status_code}: {resp.text[:200]}"}
    data = resp.json()
    event = next((e["decision"] for e in data["trace"]["events"] if e["step"] == "retrieval"), {})
    return {"text": data["choices"][0]["message"]["content"], "retrieval": event, "sources": data.get("sources")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--per-dataset", type=int, default=20)
    ap.add_argument("--gate", type=Path, default=REPO / "artifacts" / "retrieval-gate")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} not found (the shared data folder)")

    from orchestrator.config import RetrievalSettings
    from orchestrator.embeddings import Embedder
    from orchestrator.retrieval.gate import choose
    from orchestrator.retrieval.replay import load_gate

    rows = [json.loads(line) for line in args.data.open()]
    picked = sample(rows, args.per_dataset, args.seed)
    gate = load_gate(args.gate)["query_gate"]
    embedder = Embedder()
    work = Path(tempfile.mkdtemp(prefix="retrieval-e2e-"))
    index_root = REPO / "artifacts" / f"retrieval-e2e-index-{args.per_dataset}-{args.seed}"  # re-runs skip re-embedding
    replay = work / "replay.jsonl"
    write_replay(picked, replay)
    settings = RetrievalSettings(enabled=True, store="embedded", path=str(index_root), index="passages", gate=str(args.gate.resolve()), top_k=5, max_steps=3, min_score=-1.0,
                                 weak_expert_boost=0.0)  # the recorded data has no recruiter: the query gate alone, as offline
    n_passages, ingest_s = ingest_passages(picked, settings, embedder)
    print(f"{len(picked)} test questions; {n_passages} passages ingested in {ingest_s:.1f} s")

    # Offline: the same gate on the same questions, scored from the recorded outcomes.
    emb = embedder.encode([r["question"] for r in picked])
    offline_choice = choose(gate.predict_proba(emb), gate.cost_weight)
    correct = np.array([[r["correct"][s] for s in STRATEGIES] for r in picked], dtype=float)

    base = yaml.safe_load((REPO / "experts.yaml").read_text())
    keep = {e["name"]: e for e in base["experts"] if e["name"] in (EXPERT, OTHER)}
    specs = [SimSpec(keep[n]["model"].split("/", 1)[1], expert=n, replay=replay, time_scale=0.0) for n in (EXPERT, OTHER)]
    with start_simulators(specs, startup_timeout_s=180) as sims:
        for n, sim in zip((EXPERT, OTHER), sims):
            keep[n]["api_base"] = sim.api_base
        base["experts"] = [keep[EXPERT], keep[OTHER]]
        base["scheduler"]["gpu_memory_budget_gb"] = None
        base["router"]["artifacts"] = str(work / "router")
        base["retrieval"] = json.loads(settings.model_dump_json())
        base["gateway"] = {"rate_limit_rpm": 10_000_000}
        base["verification"] = {"enabled": False}
        base["simulator"]["replay_dataset"] = str(replay)
        cfg = work / "experts.yaml"
        cfg.write_text(yaml.safe_dump(base, sort_keys=False))
        train_router(cfg, work / "router")
        with GatewayProcess(cfg, ready_path="/ready", startup_timeout_s=300) as gw:
            url = f"{gw.url}/v1/chat/completions"

            async def run(mode: str) -> list[dict]:
                async with httpx.AsyncClient(timeout=120) as http:
                    sem = asyncio.Semaphore(8)

                    async def one(q: str) -> dict:
                        async with sem:
                            return await ask(http, url, q, mode)

                    return await asyncio.gather(*(one(r["question"]) for r in picked))

            results = {}
            for mode in ("never", "always", "auto"):
                t0 = time.perf_counter()
                results[mode] = asyncio.run(run(mode))
                print(f"  {mode}: {len(picked)} requests in {time.perf_counter() - t0:.1f} s")
            metrics = httpx.get(f"{gw.url}/metrics").text

    def score(res: list[dict]) -> tuple[float, float, int]:
        hits = [any(normalise(final_answer(x.get("text", ""))) == normalise(g) for g in r["gold"]) for x, r in zip(res, picked)]
        retrieved = [bool(x.get("retrieval", {}).get("retrieved")) for x in res]
        return float(np.mean(hits)), float(np.mean(retrieved)), sum("error" in x for x in res)

    live_choice = np.array([STRATEGIES.index(x.get("retrieval", {}).get("strategy", "no_retrieval")) for x in results["auto"]])
    off = {"never": (correct[:, 0].mean(), 0.0), "always": (correct[:, 1].mean(), 1.0),
           "auto": (correct[np.arange(len(picked)), offline_choice].mean(), float((offline_choice > 0).mean()))}
    print(f"\n{'policy':8s} {'live acc':>9s} {'offline acc':>12s} {'live retr.':>11s} {'offline retr.':>14s} {'errors':>7s}")
    for mode in ("never", "always", "auto"):
        acc, rate, errors = score(results[mode])
        print(f"{mode:8s} {acc:9.3f} {off[mode][0]:12.3f} {rate:11.1%} {off[mode][1]:14.1%} {errors:7d}")
    print(f"gate decisions identical live vs offline: {(live_choice == offline_choice).mean():.1%}; live strategies {dict(Counter(STRATEGIES[i] for i in live_choice))}")
    cited = [x for x in results["always"] if x.get("sources")]
    print(f"responses carrying sources (always): {len(cited)}/{len(picked)}; steps on multi: {Counter(x['retrieval'].get('steps') for x in results['auto'] if x['retrieval'].get('strategy') == 'multi')}")
    for line in metrics.splitlines():
        if line.startswith("orchestrator_retrieval_decisions_total") or line.startswith("orchestrator_retrieval_seconds_count"):
            print("  " + line)


if __name__ == "__main__":
    main()
