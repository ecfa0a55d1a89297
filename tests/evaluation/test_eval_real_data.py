"""One end-to-end run of the real command, real MiniLM embeddings, on a slice of shared data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _slice(source: Path, out: Path, per_split: dict[str, int]) -> Path:
    left = dict(per_split)
    with source.open(encoding="utf-8") as fh, out.open("w", encoding="utf-8") as dst:
        for line in fh:
            split = json.loads(line).get("split")
            if left.get(split, 0) > 0:
                dst.write(line)
                left[split] -= 1
            if not any(left.values()):
                break
    return out


@pytest.mark.slow
def test_eval_on_real_routerbench_rows_matches_data_inspect(shared_routing: Path, tmp_path: Path):
    data = _slice(shared_routing / "routerbench3.jsonl", tmp_path / "rb.jsonl", {"train": 60, "test": 30})
    run = lambda *a: subprocess.run([sys.executable, "-m", "orchestrator", *a], cwd=REPO, capture_output=True, text=True, timeout=240)  # noqa: E731
    ev = run("eval", "--data", str(data), "--out", str(tmp_path / "out"), "--json", "--bootstrap", "200", "--no-embedding-cache")
    assert ev.returncode == 0, ev.stderr[-2000:]
    report = json.loads(ev.stdout)
    inspect = run("data", "inspect", str(data), "--json")
    view = next(v for v in json.loads(inspect.stdout)["views"] if v["name"] == "test")
    assert report["best_single_expert"] == view["best_single"]
    assert report["policies"]["best_single"]["accuracy"] == pytest.approx(view["best_single_accuracy"])
    assert report["policies"]["oracle"]["accuracy"] == pytest.approx(view["oracle_accuracy"])
    assert report["policies"]["oracle"]["mean_cost_usd"] == pytest.approx(view["oracle_mean_cost"])
    assert report["cost_unit"] == "usd" and report["n"] == 30
    assert report["policies"]["router"]["vote_accuracy"] is not None  # routerbench records answers
