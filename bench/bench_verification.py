"""Debate-style verification over the recorded disagreements of mmlu_pro and zeroeval_reasoning.

Debate cannot be replayed from recorded data, so debaters, agents and the judge are the
simulator's (services/expert_sim/verification.py), with a DECLARED judge accuracy: 0.84 after
a debate, 0.74 after a single consultant (Michael et al. 2023's human-judge figures), reached
after 3 rounds, position bias 0.05. Experts' first answers are replayed from the recordings.

Setting (per file): the panel is the 3 experts best on the *train* split (the router's k_max =
3); the pipeline's answer is their vote (ties to the better-ranked), as `aggregation: auto` does
for extractable answers. On the items where the trigger fires, compare:
  none        the panel's vote (no verification)
  vote5       a bigger vote: the panel plus the next 2 experts by train accuracy (recorded answers)
  debate      the two best-ranked rival answers argue, the simulated judge decides (both orders)
  consult     one consultant argues for the vote's answer, the judge decides against the runner-up
  mad         Du et al. multi-agent debate among the panel, then a vote
Cost: mmlu_pro in estimated USD (the recordings' cost_usd for first answers; list prices of
the data README for the debate's tokens; the judge priced as gemini-1.5-flash-002). zeroeval has
no prices: cost there is tokens (output_chars / 4 for first answers). Latency: the simulator's
latency model (ttft 15 ms + 20 ms per 1k prompt tokens, 2 ms per output token), parallel calls
counted once. Added cost is verification's spend (every debater, judge, re-ask and agent
call) over the panel's cost, both summed over ALL requests of the split.

Confidence gate (`require_low_confidence`): the router's predicted P(correct) of the
best-ranked panel expert holding the vote's answer, as the gateway reads it off the routing
decision. The router (TwoLevelRouter) is fitted here on train with TF-IDF embeddings (no MiniLM
download); train items get its out-of-fold predictions, test items its predictions.

The shipped default is chosen on TRAIN, jointly for both files (one experts.yaml): the most net
flips (wrong->right minus right->wrong, summed) with each file's added mean cost within
--target, over disagreement x rounds x gate x flip_confidence (word limit fixed at 60: the
simulated judge does not read words, so the grid cannot judge it). Test numbers follow, once.

    .venv/bin/python bench/bench_verification.py [--files mmlu_pro zeroeval_reasoning] [--limit N] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT / ".." / "shared" / "data" / "routing"

from orchestrator.aggregation import normalize_answer
from orchestrator.config import Price, VerificationSettings
from orchestrator.data import iter_records
from orchestrator.experts.types import Completion
from orchestrator.verification import (
    Aggregated,
    Candidate,
    Verifier,
    decide_trigger,
    plurality,
)
from services.expert_sim.settings import SimSettings
from services.expert_sim.tokens import count_text
from services.expert_sim.verification import GoldBook, VerificationResponder

# USD per million tokens (input, output): the table of ../shared/data/README.md for mmlu_pro.
MMLU_PRICES = {
    "gemini-1.5-pro-002": (1.25, 5.00), "gemini-1.5-flash-002": (0.075, 0.30), "jamba-1.5-large": (2.00, 8.00),
    "c4ai-command-r-v01": (0.50, 1.50), "Mixtral-8x7B-Instruct-v0.1": (0.60, 0.60), "Qwen1.5-110B": (1.80, 1.80),
    "Meta-Llama-3.1-70B-Instruct": (0.90, 0.90), "Qwen1.5-72B-Chat": (0.90, 0.90), "Phi-3-mini-4k-instruct": (0.10, 0.10),
}  # fmt: skip
SMALL = (0.20, 0.20)  # the 4.1-8B size rule for the rest
JUDGE = "judge"
SIM = SimSettings()


@dataclass
class Item:
    id: str
    prompt: str
    answers: list[str | None]  # the panel's, in rank order
    extra: list[str | None]  # the two next experts'
    right: set[str]
    base_cost: float
    extra_cost: float
    base_tokens: int
    base_latency: float
    confidence: float | None = None  # the router's P(correct) of the vote's best-ranked holder


def latency(prompt_tokens: int, completion_tokens: int) -> float:
    return (SIM.ttft_base_ms + SIM.ttft_per_1k_prompt_tokens_ms * prompt_tokens / 1000 + SIM.itl_ms * completion_tokens) / 1000


class SimCaller:
    """The verifier's expert call, answered in-process by the simulator's verification responder."""

    def __init__(self, gold: GoldBook, prices: dict[str, Price]):
        self.responders: dict[str, VerificationResponder] = {}
        self.gold = gold
        self.prices = prices

    async def __call__(self, expert: str, messages: list[dict], params: dict) -> Completion:
        responder = self.responders.setdefault(expert, VerificationResponder(expert, 0, self.gold))
        text = responder.respond(messages[-1]["content"] if messages[-1]["role"] == "user" else messages[0]["content"]) or "P(A)=0.5"
        pt = sum(count_text(m["content"]) for m in messages)
        ct = count_text(text)
        return Completion(expert, text, "stop", pt, ct, latency(pt, ct), None, self.prices[expert].cost(pt, ct), 1)


def rank_experts(train: list) -> list[str]:
    acc = Counter()
    for r in train:
        for e, o in r.experts.items():
            acc[e] += o.score
    return [e for e, _ in acc.most_common()]


def prices_for(name: str, experts: list[str]) -> dict[str, Price]:
    if name == "mmlu_pro":
        table = {e: MMLU_PRICES.get(e, SMALL) for e in experts}
        table[JUDGE] = MMLU_PRICES["gemini-1.5-flash-002"]
    else:  # cost in tokens: one "dollar" per million tokens
        table = {e: (1.0, 1.0) for e in [*experts, JUDGE]}
    return {e: Price(input_per_mtok=i, output_per_mtok=o) for e, (i, o) in table.items()}


def items_of(name: str, rows: list, panel: list[str], extra: list[str], gold: GoldBook, quality: dict[str, dict[str, float]]) -> list[Item]:
    """``quality``: row id -> expert -> the router's predicted P(correct)."""
    out = []
    for r in rows:
        def ans(e, r=r):
            a = r.experts[e].answer
            return normalize_answer(a) if a else None

        def cost(e, r=r):
            o = r.experts[e]
            return o.cost_usd if name == "mmlu_pro" else (count_text(r.prompt) + (o.output_chars or 0) // 4) / 1e6

        outs = [(r.experts[e].output_chars or 0) // 4 for e in panel]
        pt = count_text(r.prompt)
        out.append(Item(
            r.id, r.prompt, [ans(e) for e in panel], [ans(e) for e in extra], gold.right_answers(r.prompt) or set(),
            sum(cost(e) for e in panel), sum(cost(e) for e in extra), sum(pt + o for o in outs), max(latency(pt, o) for o in outs),
        ))  # fmt: skip
        it = out[-1]
        vote = plurality(it.answers)
        holder = next((e for e, a in zip(panel, it.answers) if a == vote), None)
        it.confidence = None if holder is None or r.id not in quality else quality[r.id][holder]
    return out


def router_quality(path: Path) -> dict[str, dict[str, float]]:
    """Row id -> expert -> predicted P(correct): out-of-fold on train, fitted-router on test.
    Cached per file version (bench_verification_real.py reuses this run's fit)."""
    import json

    stat = path.stat()
    cache = Path.home() / ".cache" / "orchestrator" / f"bench-verification-{path.stem}-{stat.st_size}-{int(stat.st_mtime)}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    out = _fit_router_quality(path)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out))
    return out


def _fit_router_quality(path: Path) -> dict[str, dict[str, float]]:
    from bench.bench_escalation import tfidf_embeddings
    from orchestrator.data import load_dataset
    from orchestrator.router import TwoLevelRouter

    ds = load_dataset(path, require_complete=True)
    tr = np.array([s == "train" for s in ds.splits])
    train, test = ds.subset(np.flatnonzero(tr)), ds.subset(np.flatnonzero(~tr))
    Xtr, Xte = tfidf_embeddings(train.prompts, test.prompts)
    t0 = time.perf_counter()
    router = TwoLevelRouter().fit(train, embeddings=Xtr)
    q_te, _ = router.quality_and_cost(test.prompts, embeddings=Xte)
    print(f"router fitted on {len(train)} train rows in {time.perf_counter() - t0:.0f} s (TF-IDF embeddings)")
    out: dict[str, dict[str, float]] = {}
    for part, q in ((train, router._oof_quality), (test, q_te)):
        experts = list(router.experts_)
        for i, rid in enumerate(part.ids):
            out[rid] = {e: float(q[i, j]) for j, e in enumerate(experts)}
    return out


def gated(settings: VerificationSettings, items: list[Item]) -> list[Item]:
    return [it for it in items if decide_trigger(it.answers, settings, confidence=it.confidence).fire]


async def run_mode(items: list[Item], panel: list[str], settings: VerificationSettings, caller: SimCaller, mode: str) -> list:
    verifier = Verifier(settings, caller, JUDGE, caller.prices)
    sem = asyncio.Semaphore(64)

    async def one(it: Item):
        cands = [Candidate(e, f"The answer is {a}." if a else "No answer.", a) for e, a in zip(panel, it.answers)]
        agg = plurality(it.answers)
        async with sem:
            return await verifier.verify(it.prompt, cands, Aggregated(agg, f"The answer is {agg}.", None, it.base_cost), when="always", mode=mode)

    return await asyncio.gather(*(one(it) for it in items))


def calibration(ps: list[float], ys: list[bool], bins: int = 10) -> tuple[float, float]:
    p, y = np.array(ps), np.array(ys, dtype=float)
    brier = float(np.mean((p - y) ** 2))
    idx = np.minimum((p * bins).astype(int), bins - 1)
    ece = sum(abs(p[idx == b].mean() - y[idx == b].mean()) * (idx == b).mean() for b in range(bins) if (idx == b).any())
    return brier, float(ece)


GATES = (None, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
FLIPS = (0.5, 0.6, 0.7, 0.8, 0.9)


def setting(disagreement: str, rounds: int, gate: float | None, flip: float = 0.5) -> VerificationSettings:
    """``gate`` None: disagreement alone triggers (trigger_confidence 0: the signal never fires on its own)."""
    return VerificationSettings(
        disagreement=disagreement, max_rounds=rounds, word_limit=60, flip_confidence=flip,
        require_low_confidence=gate is not None, trigger_confidence=0.0 if gate is None else gate,
    )  # fmt: skip


def train_grid(name: str, items: list[Item], panel: list[str], caller: SimCaller) -> dict[tuple, tuple[float, int, int, float]]:
    """(disagreement, rounds, gate, flip) -> (added cost, w->r, r->w, trigger rate) on train. One debate
    per disagreement x rounds over the items disagreement fires on; gates and flips subset the same
    verdicts (the simulator is seeded per item, so no extra calls are needed)."""
    base_cost = sum(it.base_cost for it in items)
    grid: dict[tuple, tuple[float, int, int, float]] = {}
    for disagreement in ("no_majority", "any"):
        fired = gated(setting(disagreement, 1, None), items)
        for rounds in (1, 2, 3):
            verdicts = dict(zip((it.id for it in fired), asyncio.run(run_mode(fired, panel, setting(disagreement, rounds, None), caller, "debate"))))
            for gate in GATES:
                sub = gated(setting(disagreement, rounds, gate), fired)
                added = sum(verdicts[it.id].spend.cost_usd for it in sub) / base_cost
                for flip in FLIPS:
                    wr = rw = 0
                    for it in sub:
                        r, base = verdicts[it.id], plurality(it.answers)
                        after = r.answer if r.status == "verified" and r.answer != base and r.probability >= flip else base
                        wr += after in it.right and base not in it.right
                        rw += base in it.right and after not in it.right
                    grid[(disagreement, rounds, gate, flip)] = (added, wr, rw, len(sub) / len(items))
    return grid


def select_jointly(grids: dict[str, dict[tuple, tuple[float, int, int, float]]], target: float) -> VerificationSettings | None:
    """The setting with the most net flips summed over the files, each file within ``target``
    added mean cost; ties to the cheaper. None when no such setting has positive net flips."""
    names = list(grids)
    print(f"\n## selection on train, jointly over {', '.join(names)}: debate, 60 words (rows within +{target:.0%} on every file, best 15, then the best over budget)")
    head = " | ".join(f"{n} trig | {n} cost | {n} w->r | {n} r->w" for n in names)
    print(f"| disagreement | rounds | gate | flip | {head} | net |")
    print("|---|---|---|---|" + "---|" * (4 * len(names)) + "---|")
    rows = []
    for key in grids[names[0]]:
        per = [grids[n][key] for n in names]
        net = sum(wr - rw for _, wr, rw, _ in per)
        within = all(added <= target for added, _, _, _ in per)
        rows.append((within, net, -max(p[0] for p in per), key, per))
    rows.sort(key=lambda r: (r[0], r[1], r[2]), reverse=True)
    shown = [r for r in rows if r[0]][:15] + [r for r in rows if not r[0]][:3]
    for within, net, _, (d, rounds, gate, flip), per in shown:
        cells = " | ".join(f"{t:.1%} | +{a:.1%} | {wr} | {rw}" for a, wr, rw, t in per)
        print(f"| {d} | {rounds} | {'-' if gate is None else f'< {gate}'} | {flip} | {cells} | {net}{'' if within else ' (over budget)'} |")
    best = rows[0]
    if not best[0] or best[1] <= 0:
        print(f"chosen: none (no setting within +{target:.0%} on every file has positive net flips)")
        return None
    d, rounds, gate, flip = best[3]
    print(f"chosen: disagreement={d} max_rounds={rounds} word_limit=60 require_low_confidence={gate is not None} "
          f"trigger_confidence={0.0 if gate is None else gate} flip_confidence={flip}")  # fmt: skip
    return setting(d, rounds, gate, flip)


def evaluate(name: str, split: str, items: list[Item], panel: list[str], caller: SimCaller, settings: VerificationSettings,
             modes: tuple[str, ...] = ("vote5", "debate", "consultancy", "mad")) -> None:
    disagreement = (
        f"{settings.disagreement}, max_rounds={settings.max_rounds}, word_limit={settings.word_limit}, flip_confidence={settings.flip_confidence}, "
        f"require_low_confidence={settings.require_low_confidence}, trigger_confidence={settings.trigger_confidence}"
    )
    fired = gated(settings, items)
    n, nt = len(items), len(fired)
    base = [plurality(it.answers) for it in fired]
    correct = lambda a, it: a is not None and a in it.right
    base_ok = [correct(a, it) for a, it in zip(base, fired)]
    mean_cost = sum(it.base_cost for it in items) / n
    mean_tok = sum(it.base_tokens for it in items) / n
    mean_lat = sum(it.base_latency for it in items) / n
    print(f"\n## {name} [{split}] trigger disagreement={disagreement}: {nt}/{n} triggered ({nt / n:.1%}); "
          f"panel vote accuracy on all {n}: {np.mean([correct(plurality(it.answers), it) for it in items]):.3f}")  # fmt: skip
    unit = "USD/1k req" if name == "mmlu_pro" else "Mtok/1k req"
    print(f"baseline per request: cost {mean_cost * 1000:.4f} {unit}, tokens {mean_tok:.0f}, latency {mean_lat * 1000:.0f} ms")
    print("| mode | acc on triggered | overall acc | w->r | r->w | added cost | added tokens | added latency | rounds | Brier all / decidable | ECE all / decidable | unverified |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    overall_base = sum(correct(plurality(it.answers), it) for it in items)

    def row(mode, answers, add_cost, add_tok, add_lat, rounds="", cal="", unverified=""):
        ok = [correct(a, it) for a, it in zip(answers, fired)]
        wr = sum(o and not b for o, b in zip(ok, base_ok))
        rw = sum(b and not o for o, b in zip(ok, base_ok))
        overall = (overall_base - sum(base_ok) + sum(ok)) / n
        print(f"| {mode} | {np.mean(ok) if ok else 0:.3f} | {overall:.3f} | {wr} | {rw} | +{add_cost / n / mean_cost:.1%} | "
              f"+{add_tok / n / mean_tok:.1%} | +{add_lat / n / mean_lat:.1%} | {rounds} | {cal} | {unverified} |")  # fmt: skip

    row("none (panel vote)", base, 0, 0, 0)
    if "vote5" in modes:
        row("vote of 5", [plurality(it.answers + it.extra) for it in fired], sum(it.extra_cost for it in fired), 0, 0)
    for mode in [m for m in modes if m != "vote5"]:
        t0 = time.perf_counter()
        results = asyncio.run(run_mode(fired, panel, settings, caller, mode))
        answers = [r.answer if r.status == "verified" else plurality(it.answers) for r, it in zip(results, fired)]
        cost = sum(r.spend.cost_usd for r in results)
        tok = sum(r.spend.tokens for r in results)
        lat = sum(r.latency_s for r in results)
        rounds = f"{np.mean([r.rounds for r in results]):.2f}" if results else ""
        cal = ""
        if mode != "mad" and results:
            done = [(r.probability, correct(r.answer, it), sum(a in it.right for a in r.verdicts[-1]["p"]) == 1)
                    for r, it in zip(results, fired) if r.status == "verified"]  # fmt: skip
            brier, ece = calibration([p for p, _, _ in done], [y for _, y, _ in done])
            decidable = [(p, y) for p, y, d in done if d]
            b2, e2 = calibration([p for p, _ in decidable], [y for _, y in decidable]) if decidable else (float("nan"),) * 2
            cal = f"{brier:.3f} / {b2:.3f} | {ece:.3f} / {e2:.3f}"
        else:
            cal = " | "
        unverified = sum(r.status != "verified" for r in results)
        row(mode, answers, cost, tok, lat, rounds, cal, str(unverified))
        print(f"<!-- {mode}: {time.perf_counter() - t0:.1f} s wall -->")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", nargs="+", default=["mmlu_pro", "zeroeval_reasoning"])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--target", type=float, default=0.15, help="added-cost ceiling for the setting chosen on train")
    ap.add_argument("--data-dir", type=Path, default=SHARED, help="folder of the routing files (default ../shared/data/routing)")
    args = ap.parse_args()
    runs, grids = {}, {}
    for name in args.files:
        path = args.data_dir / f"{name}.jsonl"
        if not path.exists():
            print(f"skip {name}: {path} is absent")
            continue
        gold = GoldBook.load(path)
        train = [r for _, r in iter_records(path, split="train")]
        test = [r for _, r in iter_records(path, split="test")]
        ranked = rank_experts(train)
        panel, extra = ranked[:3], ranked[3:5]
        print(f"\n# {name}: panel (top 3 on train) {panel}; vote-of-5 adds {extra}")
        quality = router_quality(path)
        caller = SimCaller(gold, prices_for(name, ranked))
        train_items = items_of(name, train[: args.limit], panel, extra, gold, quality)
        grids[name] = train_grid(name, train_items, panel, caller)
        runs[name] = (items_of(name, test[: args.limit], panel, extra, gold, quality), panel, caller)
    if not runs:
        return
    chosen = select_jointly(grids, args.target)
    shipped = VerificationSettings()  # experts.yaml's defaults are the model's defaults
    if chosen is not None and chosen != shipped:
        print("note: the chosen setting differs from the shipped defaults (orchestrator/config.py, experts.yaml)")
    for name, (items, panel, caller) in runs.items():
        evaluate(name, "test", items, panel, caller, chosen or shipped)
        # The previous default, as it ran before the gate: disagreement alone, 3 rounds, 120 words.
        evaluate(name, "test", items, panel, caller, VerificationSettings(disagreement="no_majority", max_rounds=3, word_limit=120,
                                                                          trigger_confidence=0.0, require_low_confidence=False), ("debate",))  # fmt: skip


if __name__ == "__main__":
    main()
