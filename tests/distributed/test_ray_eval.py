"""`orchestrator eval --ray`: the prompts are embedded on Ray Data actors, in shards; the report is
the local run's. A hashed bag-of-words embedder stands in for MiniLM (loading torch in every Ray
worker costs minutes on a 2-core CI machine); which model embeds is the factory's business."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.evaluation import runner as runner_module
from synthetic import FakeEmbedder, write

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _report(path) -> dict:
    report = json.loads(path.read_text())
    report.pop("timings_s", None)
    return report


def test_ray_embeddings_come_back_in_input_order(ray_cluster):
    from orchestrator.distributed.ray_embed import RayEmbedder

    prompts = [f"Question {i}: how many legs do {i % 13} spiders and {i % 7} ants have?" for i in range(300)]
    on_ray = RayEmbedder("auto", factory=FakeEmbedder, shard_rows=64).encode(prompts)
    np.testing.assert_array_equal(on_ray, FakeEmbedder().encode(prompts))


def test_eval_on_ray_writes_the_local_report(ray_cluster, tmp_path, monkeypatch):
    monkeypatch.setattr(runner_module, "_default_embedder", FakeEmbedder)
    data = write(tmp_path / "small.jsonl", 200)
    common = ["eval", "--data", str(data), "--bootstrap", "50", "--no-embedding-cache", "--json"]
    local = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    on_ray = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "ray"), "--ray", "auto"])
    assert on_ray.exit_code == 0, on_ray.output
    assert _report(tmp_path / "ray" / "report.json") == _report(tmp_path / "local" / "report.json")
