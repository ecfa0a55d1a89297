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
counted once. The default trigger is chosen on train (the split it prints first).

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

from orchestrator.aggregation import normalize_answer  # noqa: E402
from orchestrator.config import Price, VerificationSettings  # noqa: E402
from orchestrator.data import iter_records  # noqa: E402
from orchestrator.experts.types import Completion  # noqa: E402
from orchestrator.verification import Aggregated, Candidate, Verifier, decide_trigger, plurality  # noqa: E402
from services.expert_sim.settings import SimSettings  # noqa: E402
from services.expert_sim.tokens import count_text  # noqa: E402
from services.expert_sim.verification import GoldBook, VerificationResponder  # noqa: E402

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


def items_of(name: str, rows: list, panel: list[str], extra: list[str], gold: GoldBook) -> list[Item]:
    out = []
    for r in rows:
        def ans(e):  # noqa: ANN001, ANN202
            a = r.experts[e].answer
            return normalize_answer(a) if a else None

        def cost(e):  # noqa: ANN001, ANN202
            o = r.experts[e]
            return o.cost_usd if name == "mmlu_pro" else (count_text(r.prompt) + (o.output_chars or 0) // 4) / 1e6

        outs = [(r.experts[e].output_chars or 0) // 4 for e in panel]
        pt = count_text(r.prompt)
        out.append(Item(
            r.id, r.prompt, [ans(e) for e in panel], [ans(e) for e in extra], gold.right_answers(r.prompt) or set(),
            sum(cost(e) for e in panel), sum(cost(e) for e in extra), sum(pt + o for o in outs), max(latency(pt, o) for o in outs),
        ))  # fmt: skip
    return out


async def run_mode(items: list[Item], panel: list[str], settings: VerificationSettings, caller: SimCaller, mode: str) -> list:
    verifier = Verifier(settings, caller, JUDGE, caller.prices)
    sem = asyncio.Semaphore(64)

    async def one(it: Item):  # noqa: ANN202
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


def select_on_train(items: list[Item], panel: list[str], caller: SimCaller, target: float) -> VerificationSettings:
    """The debate setting with the most net flips (wrong->right minus right->wrong) on train
    whose added mean cost stays within ``target``; ties go to the cheaper."""
    base_cost = sum(it.base_cost for it in items)
    print(f"\n## selection on train ({len(items)} rows): debate, added cost vs net flips")
    print("| disagreement | max_rounds | word_limit | flip_confidence | triggered | added cost | w->r | r->w | net |")
    print("|---|---|---|---|---|---|---|---|---|")
    best: tuple[tuple, VerificationSettings] | None = None
    for disagreement in ("no_majority", "any"):
        for max_rounds in (1, 2, 3):
            for word_limit in (60, 120):
                s = VerificationSettings(disagreement=disagreement, max_rounds=max_rounds, word_limit=word_limit)
                fired = [it for it in items if decide_trigger(it.answers, s).fire]
                results = asyncio.run(run_mode(fired, panel, s, caller, "debate"))
                added = sum(r.spend.cost_usd for r in results) / base_cost
                for flip in (0.5, 0.7, 0.8, 0.9):  # applied to the same verdicts: no extra calls
                    wr = rw = 0
                    for r, it in zip(results, fired):
                        base = plurality(it.answers)
                        after = base
                        if r.status == "verified" and r.answer != base and r.probability >= flip:
                            after = r.answer
                        wr += after in it.right and base not in it.right
                        rw += base in it.right and after not in it.right
                    row = f"| {disagreement} | {max_rounds} | {word_limit} | {flip} | {len(fired) / len(items):.1%} | +{added:.1%} | {wr} | {rw} | {wr - rw} |"
                    print(row)
                    key = (wr - rw, -added)
                    if added <= target and wr > rw and (best is None or key > best[0]):
                        best = (key, s.model_copy(update={"flip_confidence": flip}))
    if best is None:
        print(f"chosen: none (no setting within +{target:.0%} cost has more wrong->right than right->wrong flips)")
        return VerificationSettings()
    c = best[1]
    print(f"chosen (net flips, within +{target:.0%} cost): disagreement={c.disagreement} max_rounds={c.max_rounds} "
          f"word_limit={c.word_limit} flip_confidence={c.flip_confidence}")  # fmt: skip
    return c


def evaluate(name: str, split: str, items: list[Item], panel: list[str], caller: SimCaller, settings: VerificationSettings) -> None:
    disagreement = (
        f"{settings.disagreement}, max_rounds={settings.max_rounds}, word_limit={settings.word_limit}, flip_confidence={settings.flip_confidence}"
    )
    fired = [it for it in items if decide_trigger(it.answers, settings).fire]
    n, nt = len(items), len(fired)
    base = [plurality(it.answers) for it in fired]
    correct = lambda a, it: a is not None and a in it.right  # noqa: E731
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

    def row(mode, answers, add_cost, add_tok, add_lat, rounds="", cal="", unverified=""):  # noqa: ANN001, ANN202
        ok = [correct(a, it) for a, it in zip(answers, fired)]
        wr = sum(o and not b for o, b in zip(ok, base_ok))
        rw = sum(b and not o for o, b in zip(ok, base_ok))
        overall = (overall_base - sum(base_ok) + sum(ok)) / n
        print(f"| {mode} | {np.mean(ok) if ok else 0:.3f} | {overall:.3f} | {wr} | {rw} | +{add_cost / n / mean_cost:.1%} | "
              f"+{add_tok / n / mean_tok:.1%} | +{add_lat / n / mean_lat:.1%} | {rounds} | {cal} | {unverified} |")  # fmt: skip

    row("none (panel vote)", base, 0, 0, 0)
    vote5 = [plurality(it.answers + it.extra) for it in fired]
    row("vote of 5", vote5, sum(it.extra_cost for it in fired), 0, 0)
    for mode in ("debate", "consultancy", "mad"):
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
        caller = SimCaller(gold, prices_for(name, ranked))
        train_items = items_of(name, train[: args.limit], panel, extra, gold)
        chosen = select_on_train(train_items, panel, caller, args.target)
        test_items = items_of(name, test[: args.limit], panel, extra, gold)
        evaluate(name, "test", test_items, panel, caller, VerificationSettings())  # experts.yaml's defaults
        if chosen != VerificationSettings():
            evaluate(name, "test", test_items, panel, caller, chosen)
        evaluate(name, "test", test_items, panel, caller, VerificationSettings(disagreement="any"))


if __name__ == "__main__":
    main()
