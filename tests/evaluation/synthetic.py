"""Synthetic routing datasets and a fake embedder for fast, offline evaluation tests.

Also a script: ``python tests/evaluation/synthetic.py OUT.jsonl --rows 100000`` writes a large
file for the memory/time check of ``orchestrator eval`` (not committed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

CATEGORIES = ("math", "code", "medical", "law")
EXPERTS = ("alpha", "beta", "gamma")
# Per category, each expert's chance of being right: every expert is best somewhere.
SKILL = {"math": (0.9, 0.5, 0.3), "code": (0.4, 0.9, 0.5), "medical": (0.5, 0.4, 0.85), "law": (0.7, 0.6, 0.6)}
PRICE = (0.002, 0.0005, 0.001)
WORDS = {
    "math": "integral sum prime equation solve number",
    "code": "python function bug compile loop class",
    "medical": "patient dose symptom clinical drug disease",
    "law": "contract court statute liability appeal tort",
}


def rows(n: int, *, seed: int = 0, answers: bool = True, cost: bool = True, experts: tuple[str, ...] = EXPERTS, train_fraction: float = 0.7):
    """Yield ``n`` routing records (dicts); ``train_fraction`` of them (spread evenly) are train rows."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        cat = CATEGORIES[i % len(CATEGORIES)]
        words = rng.choice(WORDS[cat].split(), size=5)
        prompt = f"Question {i} about {cat}: " + " ".join(words) + "?"
        gold = str(int(rng.integers(0, 4)))
        outcomes = {}
        for j, e in enumerate(experts):
            right = bool(rng.random() < SKILL[cat][j % 3])
            o: dict = {"score": 1.0 if right else 0.0}
            if cost:
                o["cost_usd"] = PRICE[j % 3] * (0.5 + rng.random())
            if answers:
                o["answer"] = gold if right else str((int(gold) + 1 + int(rng.integers(0, 3))) % 4)
            outcomes[e] = o
        yield {"id": f"q{i}", "prompt": prompt, "task": f"{cat}-bench", "category": cat,
               "split": "train" if (i * 7919) % 100 < round(100 * train_fraction) else "test", "experts": outcomes}


def write(path: Path, n: int, **kwargs) -> Path:
    with Path(path).open("w", encoding="utf-8") as fh:
        for r in rows(n, **kwargs):
            fh.write(json.dumps(r) + "\n")
    return Path(path)


class FakeEmbedder:
    """Hashed bag of words, L2-normalised: prompts sharing words are close, and no model is loaded."""

    fingerprint = "fake-embedder"
    name = "fake"

    def __init__(self, dim: int = 64):
        self.dim = dim

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().replace("?", " ").replace(":", " ").split():
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=4).digest(), "little")
                out[i, h % self.dim] += 1.0
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-fraction", type=float, default=0.7)
    args = ap.parse_args()
    write(args.out, args.rows, seed=args.seed, train_fraction=args.train_fraction)
    print(f"wrote {args.rows} rows to {args.out}")
