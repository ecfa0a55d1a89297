"""Router fit at scale: wall time and peak memory of ``TwoLevelRouter.fit`` on N training rows.

Claim: fitting stays within bounded memory as the training set grows (the cross-validated
neighbour search works in chunks instead of one n x n similarity matrix). Embeddings are random
unit vectors, so the number measures the router, not MiniLM (which embeds ~90 prompts/s here).

    .venv/bin/python bench/bench_router_fit_scale.py --rows 70000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "evaluation"))

import synthetic  # noqa: E402  (the evaluation tests' synthetic routing data)

from orchestrator.data import load_dataset  # noqa: E402
from orchestrator.router import TwoLevelRouter  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=70_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ds = load_dataset(synthetic.write(Path(tmp) / "train.jsonl", args.rows, train_fraction=1.0))
    X = np.random.default_rng(0).standard_normal((len(ds), 384)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    TwoLevelRouter().fit(ds, embeddings=X)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| rows | fit s | peak RSS MB | RSS before fit MB |\n|---|---|---|---|\n| {len(ds)} | {time.perf_counter() - t0:.0f} | {peak:.0f} | {before:.0f} |")


if __name__ == "__main__":
    main()
