"""`orchestrator batch --ray` on a local Ray cluster gives the same answers as the local run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _write(tmp_path: Path, sims) -> tuple[Path, Path]:
    lines = ["version: 1", "experts:"]
    for i, s in enumerate(sims):
        lines += [
            f"  - name: e{i}", f"    model: hosted_vllm/{s.served_model_name}", f"    api_base: {s.api_base}",
            "    roles: [expert, aggregator]", "    memory_gb: 20", "    max_retries: 0",
        ]  # fmt: skip
    lines += ["scheduler:", "  gpu_memory_budget_gb: 40"]  # two of three awake: shards must swap
    config = tmp_path / "experts.yaml"
    config.write_text("\n".join(lines) + "\n")
    rng = random.Random(7)
    queries = tmp_path / "queries.jsonl"
    rows = []
    for i in range(300):
        experts = rng.sample(["e0", "e1", "e2"], k=rng.choice([1, 1, 2]))
        rows.append(json.dumps({"id": f"q{i}", "prompt": f"Question {i}: what is {i} + {i % 7}?", "experts": experts}))
    queries.write_text("\n".join(rows) + "\n")
    return config, queries


def _records(path: Path) -> list[dict]:
    # latency_s is wall time, different on every run by nature; everything else must match.
    return [{k: v for k, v in json.loads(line).items() if k != "latency_s"} for line in path.read_text().splitlines()]


def test_batch_on_ray_matches_the_local_run(sim_factory, tmp_path, ray_cluster):
    sims = [sim_factory(f"ray-batch-{i}", fresh=True) for i in range(3)]
    config, queries = _write(tmp_path, sims)
    local, on_ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    common = ["batch", str(queries), "--config", str(config), "--no-progress", "--max-tokens", "16"]
    result = CliRunner().invoke(app, [*common, "--out", str(local)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, [*common, "--out", str(on_ray), "--ray", "auto"])
    assert result.exit_code == 0, result.output
    assert len(_records(local)) > 300
    assert _records(on_ray) == _records(local)
