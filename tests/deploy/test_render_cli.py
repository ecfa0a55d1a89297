"""`orchestrator deploy render --target ...` writes only that target's files; bad input is one clear line."""

from __future__ import annotations

from typer.testing import CliRunner

from orchestrator.cli import app

from .conftest import REPO


def test_one_target_writes_only_its_files(tmp_path):
    result = CliRunner().invoke(app, ["deploy", "render", "--config", str(REPO / "experts.yaml"), "--target", "k8s", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k8s-values.yaml"]


def test_unknown_target_and_unfittable_config_are_clear_errors(tmp_path):
    result = CliRunner().invoke(app, ["deploy", "render", "--config", str(REPO / "experts.yaml"), "--target", "nomad", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "nomad" in result.output
    result = CliRunner().invoke(
        app, ["deploy", "render", "--config", str(REPO / "experts.yaml"), "--target", "vllm", "--gpus", "1", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "does not fit on 1 GPU(s) of 80 GB" in result.output and "Traceback" not in result.output
