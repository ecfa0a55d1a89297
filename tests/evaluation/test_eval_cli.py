"""``orchestrator eval`` as a user runs it: bad input, the --json contract, seeds, --compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.evaluation import runner as runner_module
from synthetic import FakeEmbedder, write

POLICIES = {"router", "category", "recruiter", "best_single", "random", "oracle", "knn", "regression"}


@pytest.fixture(autouse=True)
def fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """No sentence-transformers in these tests: a hashed bag of words stands in for MiniLM."""
    monkeypatch.setattr(runner_module, "_default_embedder", FakeEmbedder)


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("cli") / "small.jsonl", 200)


def _eval(*args: str) -> object:
    return CliRunner().invoke(app, ["eval", *args, "--bootstrap", "100", "--no-embedding-cache"])


@pytest.fixture(scope="module")
def json_run(small_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    out = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner_module, "_default_embedder", FakeEmbedder)
        result = _eval("--data", str(small_file), "--out", str(out), "--json", "--seed", "3")
    return result, out


def test_eval_json_prints_exactly_one_object_with_the_documented_shape(json_run):
    result, _ = json_run
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert isinstance(report["dataset"], str) and report["split"] == "test" and report["n"] == 60
    assert report["experts"] == ["alpha", "beta", "gamma"]
    assert POLICIES <= set(report["policies"])
    for p in report["policies"].values():
        assert isinstance(p["accuracy"], float)
        assert p["mean_cost_usd"] is None or isinstance(p["mean_cost_usd"], float)
        assert isinstance(p["calls_per_query"], float)
        assert p["coverage"] is None or isinstance(p["coverage"], float)
    assert report["cost_unit"] == "usd"


def test_eval_writes_report_files_matching_stdout(json_run):
    result, out = json_run
    assert json.loads((out / "report.json").read_text()) == json.loads(result.stdout)
    assert "| router |" in (out / "report.md").read_text()
    for png in ("cost_quality.png", "categories.png", "traffic.png"):
        assert (out / png).stat().st_size > 10_000


def test_eval_identical_seeds_give_identical_reports(small_file: Path, json_run, tmp_path: Path):
    first, _ = json_run
    again = _eval("--data", str(small_file), "--out", str(tmp_path), "--json", "--seed", "3")
    a, b = json.loads(first.stdout), json.loads(again.stdout)
    a.pop("timings_s"), b.pop("timings_s")
    assert a == b


def test_eval_reports_every_malformed_row_with_its_line_and_exits_2(tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    rows = [json.loads(line) for line in write(tmp_path / "ok.jsonl", 6).read_text().splitlines()]
    rows[1]["experts"]["beta"]["score"] = 1.5
    del rows[3]["prompt"]
    bad.write_text("\n".join(json.dumps(r) for r in rows[:4]) + "\n{not json\n")
    result = _eval("--data", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:2: experts.beta.score" in result.stderr
    assert f"{bad}:4: prompt" in result.stderr
    assert f"{bad}:5: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_eval_rejects_rows_missing_an_expert_with_line_numbers(tmp_path: Path):
    rows = [json.loads(line) for line in write(tmp_path / "ok.jsonl", 5).read_text().splitlines()]
    del rows[2]["experts"]["gamma"]
    bad = tmp_path / "incomplete.jsonl"
    bad.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = _eval("--data", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:3: experts: no score for gamma" in result.stderr


def test_eval_names_config_experts_the_data_lacks(small_file: Path):
    result = _eval("--data", str(small_file), "--config", "experts.yaml")
    assert result.exit_code == 2
    assert "'qwen2.5-7b-instruct' is in the config but the dataset has no scores for it" in result.stderr
    assert "the dataset's experts are: alpha, beta, gamma" in result.stderr


def test_eval_rejects_an_unknown_split(small_file: Path):
    result = _eval("--data", str(small_file), "--split", "validation")
    assert result.exit_code == 2
    assert "no rows with split 'validation' (splits present: test, train)" in result.stderr


def test_eval_compare_shows_per_policy_deltas(json_run, tmp_path: Path):
    _, out = json_run
    a = json.loads((out / "report.json").read_text())
    a["policies"]["router"]["accuracy"] -= 0.1
    (tmp_path / "a.json").write_text(json.dumps(a))
    result = CliRunner().invoke(app, ["eval", "--compare", str(tmp_path / "a.json"), str(out / "report.json"), "--json"])
    assert result.exit_code == 0, result.stderr
    diff = json.loads(result.stdout)
    assert diff["policies"]["router"]["accuracy"]["delta"] == pytest.approx(0.1)
    assert diff["policies"]["oracle"]["accuracy"]["delta"] == 0.0
    table = CliRunner().invoke(app, ["eval", "--compare", str(tmp_path / "a.json"), str(out / "report.json")])
    assert table.exit_code == 0 and "router" in table.stdout and "+10.0" in table.stdout


def test_eval_compare_reports_a_file_that_is_not_a_report(tmp_path: Path):
    (tmp_path / "x.json").write_text('{"hello": 1}')
    result = CliRunner().invoke(app, ["eval", "--compare", str(tmp_path / "x.json"), str(tmp_path / "x.json")])
    assert result.exit_code == 2
    assert "x.json: dataset: Field required" in result.stderr
