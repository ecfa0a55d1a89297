"""``orchestrator batch`` end to end against two simulators."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app


def _write_config(path: Path, sims) -> None:
    lines = ["version: 1", "experts:"]
    for i, s in enumerate(sims):
        lines += [
            f"  - name: e{i}",
            f"    model: hosted_vllm/{s.served_model_name}",
            f"    api_base: {s.api_base}",
            "    roles: [expert, aggregator]",
            "    memory_gb: 20",
        ]
    lines += ["scheduler:", "  gpu_memory_budget_gb: 20"]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.integration
def test_batch_cli_answers_every_query_on_its_experts(sim_factory, tmp_path: Path) -> None:
    sims = [sim_factory(f"batch-cli-{i}", fresh=True) for i in range(2)]
    _write_config(tmp_path / "experts.yaml", sims)
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        "\n".join(
            [
                json.dumps({"id": "a", "prompt": "What is 2+2?", "experts": ["e0", "e1"]}),
                json.dumps({"id": "b", "messages": [{"role": "user", "content": "Name a colour."}]}),
            ]
        )
    )
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        app, ["batch", str(queries), "--config", str(tmp_path / "experts.yaml"), "--out", str(out), "--experts", "e1", "--no-progress", "--max-tokens", "8"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["id"], r["expert"]) for r in rows) == [("a", "e0"), ("a", "e1"), ("b", "e1")]
    assert all(r["text"] and 0 < r["completion_tokens"] <= 8 for r in rows)


def test_batch_cli_reports_bad_lines_with_their_numbers(tmp_path: Path) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"id": "a"}\nnot json\n')
    config = Path(__file__).resolve().parents[2] / "experts.yaml"
    result = CliRunner().invoke(app, ["batch", str(queries), "--config", str(config), "--experts", "x", "--no-progress"])
    assert result.exit_code == 2
    assert "queries.jsonl:1: needs 'prompt' or 'messages'" in result.output
    assert "queries.jsonl:2: not JSON" in result.output
