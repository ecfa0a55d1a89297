"""How good is a real small model's token log-probability as a confidence signal on MMLU-Pro?

    flock /tmp/bench.lock .venv/bin/python bench/bench_logprob_auroc.py [--expert qwen2.5-coder-0.5b] [--n 150]

The escalation tables' "sim" rows use the simulator's log-probabilities, whose answer-token
probability separates right from wrong answers with AUROC ~0.87 by construction
(services/expert_sim/logprob_values.py). The routing data records none, so this measures the
real thing: one expert of experts.real.yaml served by vLLM's CPU build (``make real`` prepared
its weights; the server is started here on a free port and stopped after), asked ``--n``
seeded-random short test questions of mmlu_pro.jsonl with an answer-letter-only prompt and
the assistant's reply forced to begin "The answer is (" (vLLM's ``continue_final_message``), so
the one generated token is the letter; greedy, ``logprobs`` on. Gold = the answer of any recorded expert scored right (rows
where none is right are skipped). Printed: the model's accuracy, and the AUROC for correctness
of (a) the answer token's probability (what the cascade's ``logprob`` signal reads, exp of the
mean over the letter-only answer) and (b) the top-1 letter's share among the letters in the
top-20 alternatives (a normalised variant); beside it, the simulator's AUROC on the same rows
and the same right/wrong labels.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import socket
import sys
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestrator.config import load_config
from orchestrator.data import load_dataset
from orchestrator.escalation.replay import auroc
from services.vllm_cpu.server import VllmServer, ensure_venv
from services.vllm_cpu.weights import ensure_model_dir

LETTERS = "ABCDEFGHIJ"
INSTRUCTION = "Answer the multiple-choice question with the letter of the correct option only.\n\n"
PREFIX = "The answer is ("


def gold_answer(answers: dict[str, str | None], scores: dict[str, float]) -> str | None:
    right = {answers[e] for e, s in scores.items() if s >= 1.0 and answers.get(e)}
    return next(iter(right)) if len(right) == 1 else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def letter_of(text: str) -> str | None:
    m = re.search(r"\b([A-J])\b", text.strip().upper()[:12]) or re.match(r"\(?([A-J])", text.strip().upper())
    return m.group(1) if m else None


async def ask(client: httpx.AsyncClient, url: str, model: str, prompt: str) -> dict:
    # The answer is forced to start right after "The answer is (": the next token is the letter,
    # so its probability is the answer's own confidence (a small model otherwise opens with prose).
    body = {"model": model, "messages": [{"role": "user", "content": INSTRUCTION + prompt}, {"role": "assistant", "content": PREFIX}],
            "continue_final_message": True, "add_generation_prompt": False, "max_tokens": 1,
            "temperature": 0, "logprobs": True, "top_logprobs": 20}  # fmt: skip
    r = await client.post(f"{url}/v1/chat/completions", json=body)
    r.raise_for_status()
    return r.json()["choices"][0]


def read_choice(choice: dict) -> tuple[str | None, float, float]:
    """(letter, exp(mean token logprob) over the answer's tokens up to the letter, the letter's
    share of the probability mass the top alternatives put on letters)."""
    content = (choice.get("logprobs") or {}).get("content") or []
    text = choice["message"]["content"] or ""
    letter = letter_of(text)
    lps, share = [], float("nan")
    for tok in content:
        lps.append(tok["logprob"])
        if tok["token"].strip().strip("(").upper() in LETTERS and tok["token"].strip():
            mass: dict[str, float] = {}
            for alt in tok.get("top_logprobs") or []:
                key = alt["token"].strip().strip("(").upper()
                if len(key) == 1 and key in LETTERS:
                    mass[key] = mass.get(key, 0.0) + math.exp(alt["logprob"])
            chosen = tok["token"].strip().strip("(").upper()
            share = mass.get(chosen, math.exp(tok["logprob"])) / max(sum(mass.values()), 1e-12)
            break
    p = math.exp(float(np.mean(lps))) if lps else float("nan")
    return letter, p, share


async def run(url: str, model: str, prompts: list[str], concurrency: int) -> list[dict]:
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=300) as client:
        async def one(p: str) -> dict:
            async with sem:
                return await ask(client, url, model, p)
        return await asyncio.gather(*(one(p) for p in prompts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--expert", default="qwen2.5-coder-0.5b")
    ap.add_argument("--config", type=Path, default=REPO / "experts.real.yaml")
    ap.add_argument("--data", type=Path, default=REPO / ".." / "shared" / "data" / "routing" / "mmlu_pro.jsonl")
    ap.add_argument("--n", type=int, default=80)
    ap.add_argument("--max-chars", type=int, default=700, help="only questions this short (prefill dominates on one CPU core)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    if not args.data.exists():
        print(f"shared data absent at {args.data}: nothing to measure")
        return
    ds = load_dataset(args.data)
    rows = [i for i, s in enumerate(ds.splits) if s == "test"]
    gold = {i: gold_answer(ds.answers[i], {e: float(ds.scores[i, j]) for j, e in enumerate(ds.experts) if not np.isnan(ds.scores[i, j])}) for i in rows}
    rows = [i for i in rows if gold[i] is not None and len(ds.prompts[i]) <= args.max_chars]
    rng = np.random.default_rng(args.seed)
    sample = sorted(rng.choice(rows, size=min(args.n, len(rows)), replace=False).tolist())
    expert = next(e for e in load_config(args.config).experts if e.name == args.expert)
    python = ensure_venv()
    model_dir = ensure_model_dir(expert, python)
    port = free_port()
    expert = expert.model_copy(update={"api_base": f"http://127.0.0.1:{port}/v1"})
    t0 = time.perf_counter()
    server = VllmServer(expert, model_dir, python).start()
    try:
        server.wait_ready()
        start_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        choices = asyncio.run(run(server.url, expert.served_name, [ds.prompts[i] for i in sample], args.concurrency))
        ask_s = time.perf_counter() - t0
    finally:
        server.stop()
    read = [read_choice(c) for c in choices]
    right = np.array([r[0] == gold[i] for r, i in zip(read, sample, strict=True)], dtype=int)
    p = np.array([r[1] for r in read])
    share = np.array([r[2] for r in read])
    parsed = np.array([r[0] is not None for r in read])
    from services.expert_sim.logprob_values import ANSWER_TOKENS, token_logprobs

    sim = np.array([math.exp(float(np.mean(token_logprobs(8, bool(y), expert=args.expert, prompt=ds.ids[i])[-ANSWER_TOKENS:])))
                    for y, i in zip(right, sample, strict=True)])  # fmt: skip
    ok = np.isfinite(share)
    print(f"## {args.expert} on mmlu_pro test ({len(sample)} seeded questions of <= {args.max_chars} chars, seed {args.seed}; server start {start_s:.0f}s, "
          f"{ask_s:.0f}s for the questions at concurrency {args.concurrency})\n")
    print(f"accuracy {right.mean():.3f} (chance 0.10; a letter parsed in {parsed.mean():.0%})\n")
    print("| confidence signal | AUROC for correctness | mean when right | mean when wrong |\n|---|---|---|---|")
    print(f"| real: answer-token probability (exp mean logprob) | {auroc(p, right == 1):.3f} | {p[right == 1].mean():.3f} | {p[right == 0].mean():.3f} |")
    print(f"| real: letter share among top-20 letters ({ok.sum()} rows) | {auroc(share[ok], right[ok] == 1):.3f} | "
          f"{np.nanmean(share[right == 1]):.3f} | {np.nanmean(share[right == 0]):.3f} |")
    print(f"| simulator, same rows and labels | {auroc(sim, right == 1):.3f} | {sim[right == 1].mean():.3f} | {sim[right == 0].mean():.3f} |")


if __name__ == "__main__":
    main()
