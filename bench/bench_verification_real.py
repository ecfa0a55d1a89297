"""Debate verification end to end with a REAL judge: Qwen2.5-Coder-0.5B-Instruct (or SmolLM2-135M)
served by vLLM's CPU build, behind the real gateway.

Debaters are the simulator replaying the recorded experts (one `services.expert_sim` process per
panel expert, `--replay` the routing file, no simulated latency): their first answers are the
recorded ones and their speeches the simulator's. Only the judge is a real model. Requests go
through the gateway app (real scheduler, expert client and pipeline, in-process ASGI) with
verification enabled at the shipped defaults (experts.yaml = orchestrator/config.py), so the
trigger, the confidence gate, both answer orders, the re-ask of a malformed reply and the caps are
the production code's.

Items: the first ``--items`` test-split rows of each file on which the shipped trigger fires
(the panel and the router's P(correct) as in bench/bench_verification.py; the router is a fixed
panel ranking carrying that P, so the gateway's gate sees the same signal). Measured: how often the
judge's first reply is malformed (re-asked) and how often the re-ask fails too (the answer goes out
unverified and flagged), the judge's accuracy on decidable items (exactly one of the two debated
answers right; argmax of the averaged verdict), how often its two answer orders agree, flips
right->wrong vs wrong->right after flip_confidence, and the added latency and tokens per verified
request (every call counted).

    flock /tmp/bench.lock .venv/bin/python bench/bench_verification_real.py [--items 20] [--judge qwen2.5-coder-0.5b]

Needs `.venv-vllm` and the converted weights (`make real` once, or `orchestrator models fetch -c experts.real.yaml`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_verification import (
    SHARED,
    gated,
    items_of,
    prices_for,
    rank_experts,
    router_quality,
)
from orchestrator.config import VerificationSettings, load_config, parse_config
from orchestrator.data import iter_records
from orchestrator.experts.client import ExpertClient
from orchestrator.router.decision import RankedExpert, RoutingDecision
from services.expert_sim.launcher import SimSpec, start_simulators
from services.expert_sim.verification import GoldBook
from services.vllm_cpu.server import VllmServer, default_venv
from services.vllm_cpu.weights import ensure_model_dir

JUDGE = "judge"


class PanelRouter:
    """Routes each recorded prompt to its file's panel, best first, with the router's P(correct)."""

    categories_: ClassVar[list[str]] = ["knowledge"]

    def __init__(self, plan: dict[str, tuple[list[str], dict[str, float]]]):
        self.plan = plan

    def route(self, prompts, *, k=None, cost_weight=None, budget=None, allowed_experts=None, mode=None):
        out = []
        for p in prompts:
            panel, quality = self.plan[p]
            ranked = [RankedExpert(e, 1.0 - i / 10, quality.get(e, 0.5), None) for i, e in enumerate(panel)]
            out.append(RoutingDecision("knowledge", {"knowledge": 1.0}, [], ranked, len(panel), list(panel), None, None))
        return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def composition(panels: dict[str, list[str]], sims: dict[str, str], judge_model: str, judge_port: int) -> str:
    experts = []
    for name, panel in panels.items():
        prices = prices_for(name, panel)
        for e in panel:
            p = prices[e]
            experts.append({"name": e, "model": f"hosted_vllm/{e}", "api_base": sims[e], "roles": ["expert", "aggregator"], "max_retries": 0,
                            "price": {"input_per_mtok": p.input_per_mtok, "output_per_mtok": p.output_per_mtok}})  # fmt: skip
    experts.append({"name": JUDGE, "model": f"hosted_vllm/{judge_model}", "api_base": f"http://127.0.0.1:{judge_port}/v1",
                    "roles": ["judge"], "timeout_s": 300, "max_retries": 0, "max_concurrency": 16,
                    "price": {"input_per_mtok": 0.04, "output_per_mtok": 0.08}})  # fmt: skip
    return json.dumps({"version": 1, "experts": experts, "scheduler": {"max_wait_ms": 5},
                       "aggregation": {"default_mode": "vote"},
                       # CPU inference queues: a generous judge timeout so the bench measures the judge, not this machine.
                       "verification": {"enabled": True, "judge": JUDGE, "judge_timeout_s": 300}})  # fmt: skip


def start_judge(name: str, root: Path) -> tuple[VllmServer, str, int]:
    real = load_config(ROOT / "experts.real.yaml")
    expert = real.expert(name)
    python = default_venv() / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"no vLLM venv at {default_venv()}: run `make real` once")
    model_dir = ensure_model_dir(expert, python)
    port = free_port()
    served = expert.model_copy(update={"api_base": f"http://127.0.0.1:{port}/v1"})
    return VllmServer(served, model_dir, python, root=root, startup_timeout_s=600).start(), served.served_name, port


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", nargs="+", default=["mmlu_pro", "zeroeval_reasoning"])
    ap.add_argument("--items", type=int, default=20, help="triggered test items per file")
    ap.add_argument("--judge", default="qwen2.5-coder-0.5b", help="an expert of experts.real.yaml")
    ap.add_argument("--data-dir", type=Path, default=SHARED)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--deadline-s", type=float, default=None, help="send no new request after this many seconds; report what finished")
    ap.add_argument("--judge-url", default=None, help="use this running vLLM server (http://127.0.0.1:PORT) instead of starting one")
    ap.add_argument("--judge-model", default=None, help="its served model name (with --judge-url)")
    args = ap.parse_args()
    shipped = VerificationSettings()
    work = Path(tempfile.mkdtemp(prefix="bench-verify-real-"))
    (work / "run").mkdir()
    paths = {n: args.data_dir / f"{n}.jsonl" for n in args.files if (args.data_dir / f"{n}.jsonl").exists()}
    if not paths:
        raise SystemExit(f"no routing file of {args.files} in {args.data_dir} (--data-dir)")
    t0 = time.perf_counter()
    if args.judge_url:
        judge, judge_model, judge_port = None, args.judge_model, int(args.judge_url.rsplit(":", 1)[1].strip("/"))
    else:
        judge, judge_model, judge_port = start_judge(args.judge, work)  # starts while the routers fit
    try:
        items, panels, plan = [], {}, {}
        for name, path in paths.items():
            train = [r for _, r in iter_records(path, split="train")]
            test = [r for _, r in iter_records(path, split="test")]
            panel = rank_experts(train)[:3]
            quality = router_quality(path)
            gold = GoldBook.load(path)
            fired = gated(shipped, items_of(name, test, panel, [], gold, quality))[: args.items]
            print(f"{name}: panel {panel}; {len(fired)} triggered test items taken (in file order)")
            panels[name] = panel
            for it in fired:
                plan[it.prompt] = (panel, quality[it.id])
                items.append((name, it))
        sims_specs = [SimSpec(e, expert=e, replay=str(paths[n]), time_scale=0.0) for n, panel in panels.items() for e in panel]
        if judge is not None:
            judge.wait_ready()
        print(f"judge {args.judge} healthy on port {judge_port}; set-up {time.perf_counter() - t0:.0f} s", flush=True)
        with start_simulators(sims_specs) as sims:
            config = parse_config(composition(panels, {s.served_model_name: s.api_base for s in sims}, judge_model, judge_port))
            results = run_requests(config, PanelRouter(plan), items, args.concurrency, args.deadline_s)
    finally:
        if judge is not None:
            judge.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(results, args.judge, shipped)


def run_requests(config, router, items, concurrency, deadline_s=None):
    from fastapi.testclient import TestClient

    from services.gateway import create_app

    app = create_app(config, router=router, client=ExpertClient(config))
    start = time.perf_counter()
    with TestClient(app, raise_server_exceptions=False) as client:

        def one(item):
            name, it = item
            if deadline_s is not None and time.perf_counter() - start > deadline_s:
                return None  # past the deadline: not sent
            body = {"model": "router/auto", "messages": [{"role": "user", "content": it.prompt}], "orchestrator": {"trace": True}}
            t = time.perf_counter()
            r = client.post("/v1/chat/completions", json=body)
            wall = time.perf_counter() - t
            d = next((e["decision"] for e in r.json().get("trace", {}).get("events", []) if e["step"] == "verify"), {}) if r.status_code == 200 else {}
            print(json.dumps({"file": name, "id": it.id, "http": r.status_code, "status": d.get("status"), "answer": d.get("answer"),
                              "vote": d.get("aggregated_answer"), "right": sorted(it.right), "verdicts": d.get("verdicts"),
                              "flags": d.get("flags"), "wall_s": round(wall, 1)}), flush=True)  # fmt: skip
            return name, it, r, wall

        with ThreadPoolExecutor(concurrency) as pool:
            out = [r for r in pool.map(one, items) if r is not None]
            print(f"{len(out)} of {len(items)} requests through the gateway in {time.perf_counter() - start:.0f} s", flush=True)
    return out


def report(results, judge: str, s: VerificationSettings) -> None:
    print(f"\n## real judge: {judge} (vLLM CPU); debaters: simulator replaying the recorded experts")
    print(f"protocol: the shipped defaults (judge_timeout_s 300 s here): mode {s.mode}, disagreement {s.disagreement}, gate {s.require_low_confidence} "
          f"(< {s.trigger_confidence}), rounds {s.max_rounds}, {s.word_limit} words, stop at {s.stop_confidence}, flip at {s.flip_confidence}")  # fmt: skip
    print("| file | sent | errors | verified | unverified (flag) | first replies malformed | decidable | judge right (ties) | orders agree | w->r | r->w | added tokens / verified req | verify latency median / max |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    by_file: dict[str, list] = {}
    for name, it, r, wall in results:
        by_file.setdefault(name, []).append((it, r, wall))
    for name, rows in [*by_file.items(), ("all", [x for v in by_file.values() for x in v])]:
        errors = verified = decidable = right = ties = agree = wr = rw = asks = malformed = 0
        flags: dict[str, int] = {}
        tokens, latency = [], []
        for it, r, _ in rows:
            if r.status_code != 200:
                errors += 1
                continue
            event = next(e for e in r.json()["trace"]["events"] if e["step"] == "verify")
            d = event["decision"]
            if d["status"] == "skipped":
                continue
            latency.append(event["duration_ms"] / 1000)
            tokens.append(d["usage"]["prompt_tokens"] + d["usage"]["completion_tokens"])
            for f in d["flags"]:
                if f.startswith(("judge_", "unverified")):
                    flags[f.split(":")[0]] = flags.get(f.split(":")[0], 0) + 1
            n_orders = 2 if s.both_orders else 1
            asks += n_orders * len(d["verdicts"]) + (n_orders if d["status"] != "verified" else 0)
            malformed += sum(v.get("reasks", 0) for v in d["verdicts"]) + (1 if "judge_malformed" in d["flags"] else 0)
            base = d["aggregated_answer"]
            final = r.headers.get("x-orchestrator-verified") == "verified" and d["answer"] or base
            wr += final in it.right and base not in it.right
            rw += base in it.right and final not in it.right
            if d["status"] != "verified":
                continue
            verified += 1
            last = d["verdicts"][-1]
            two = list(last["p"])
            if sum(a in it.right for a in two) == 1:
                decidable += 1
                if last["p"][two[0]] == last["p"][two[1]]:
                    ties += 1  # no preference once the two orders are averaged
                else:
                    right += max(two, key=lambda a: last["p"][a]) in it.right
            if len(last["by_order"]) == 2:
                agree += (last["by_order"][0] >= 0.5) == (last["by_order"][1] >= 0.5)
        sent = len(rows)
        ran = len(tokens)
        flag_text = ", ".join(f"{k} {v}" for k, v in sorted(flags.items())) or "0"
        print(f"| {name} | {sent} | {errors} | {verified} | {ran - verified} ({flag_text}) | {malformed}/{asks} | {decidable} | "
              f"{right}/{decidable} ({ties} ties at 0.5) | {agree}/{verified} | {wr} | {rw} | "
              f"{statistics.mean(tokens) if tokens else 0:.0f} | "
              f"{statistics.median(latency) if latency else 0:.1f} s / {max(latency) if latency else 0:.1f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
