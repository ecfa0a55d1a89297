"""The routing-dataset format: loading, line-numbered validation, summaries and converters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.data import (
    from_prompt_category,
    from_routerbench_csv,
    iter_records,
    load_dataset,
    summarize,
    write_jsonl,
)
from orchestrator.errors import DatasetError

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "routing"
DEMO = REPO / "orchestrator" / "demo" / "demo_routing.jsonl"


def _row(i: int, split: str = "train", **experts: float) -> dict:
    return {
        "id": f"q{i}",
        "prompt": f"question {i}",
        "category": "math" if i % 2 else "code",
        "split": split,
        "experts": {name: {"score": s, "cost_usd": 0.001 * (j + 1)} for j, (name, s) in enumerate(experts.items())},
    }


def _write(tmp_path: Path, rows: list[dict | str]) -> Path:
    f = tmp_path / "d.jsonl"
    f.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return f


def test_load_dataset_packs_scores_and_costs_into_matrices(tmp_path):
    f = _write(tmp_path, [_row(1, a=1.0, b=0.0), _row(2, "test", a=0.0, b=1.0)])
    ds = load_dataset(f)
    assert ds.experts == ["a", "b"]
    np.testing.assert_array_equal(ds.scores, [[1.0, 0.0], [0.0, 1.0]])
    assert ds.cost_matrix()[1] == "usd"
    assert len(ds.split("test")) == 1 and ds.split("test").ids == ["q2"]


def test_load_dataset_split_filter_streams_only_that_split(tmp_path):
    f = _write(tmp_path, [_row(i, "test" if i % 3 == 0 else "train", a=1.0) for i in range(30)])
    assert len(load_dataset(f, split="test")) == 10


def test_malformed_rows_are_reported_with_their_line_numbers(tmp_path):
    bad_score = _row(2, a=1.5)
    no_prompt = _row(3, a=1.0)
    del no_prompt["prompt"]
    f = _write(tmp_path, [_row(1, a=1.0), bad_score, no_prompt, "{not json", _row(1, a=0.0)])
    with pytest.raises(DatasetError) as info:
        load_dataset(f)
    got = {(p.line, p.path) for p in info.value.problems}
    assert (2, "experts.a.score") in got
    assert (3, "prompt") in got
    assert (4, "") in got
    assert any(p.line == 5 and "duplicate id" in p.message for p in info.value.problems)
    assert "d.jsonl:2: experts.a.score" in str(info.value)


def test_require_complete_names_rows_missing_an_expert(tmp_path):
    f = _write(tmp_path, [_row(1, a=1.0, b=1.0), _row(2, a=1.0)])
    with pytest.raises(DatasetError) as info:
        load_dataset(f, require_complete=True)
    assert [(p.line, p.message) for p in info.value.problems] == [(2, "no score for b")]


def test_fixed_expert_set_rejects_unknown_experts(tmp_path):
    f = _write(tmp_path, [_row(1, a=1.0, z=1.0)])
    with pytest.raises(DatasetError, match="experts.z: expert not in the expected set"):
        load_dataset(f, experts=["a"])


def test_numeric_ids_are_accepted_as_strings(tmp_path):
    row = _row(1, a=1.0)
    row["id"] = 17
    assert next(iter_records(_write(tmp_path, [row])))[1].id == "17"


def test_summary_picks_best_single_on_train_and_cheapest_correct_oracle(tmp_path):
    rows = [_row(1, "train", a=1.0, b=0.0), _row(2, "train", a=1.0, b=1.0), _row(3, "test", a=0.0, b=1.0), _row(4, "test", a=1.0, b=1.0)]
    s = summarize(load_dataset(_write(tmp_path, rows)))
    test = next(v for v in s.views if v.name == "test")
    assert test.best_single == "a"  # best on train, even though b is better on test
    assert test.best_single_accuracy == 0.5
    assert test.oracle_accuracy == 1.0
    # row 3 needs b (0.002); row 4 can use the cheaper a (0.001)
    assert test.oracle_mean_cost == pytest.approx(0.0015)


def test_routerbench_csv_converts_to_routing_records(tmp_path):
    csv_file = tmp_path / "rb.csv"
    csv_file.write_text(
        "sample_id,prompt,eval_name,gpt-4,gpt-4|total_cost,gpt-4|model_response,mistral,mistral|total_cost\n"
        "s1,What is 2+2?,gsm8k,1.0,0.03,4,0.0,0.001\n"
        's2,"Pick A or B",arc,0.0,0.02,B,1.0,0.0005\n'
    )
    records = list(from_routerbench_csv(csv_file))
    assert [r.id for r in records] == ["s1", "s2"]
    assert records[0].experts["gpt-4"].cost_usd == 0.03 and records[0].experts["gpt-4"].answer == "4"
    out = tmp_path / "rb.jsonl"
    write_jsonl(records, out)
    assert load_dataset(out).experts == ["gpt-4", "mistral"]


def test_prompt_category_file_converts_without_expert_outcomes(tmp_path):
    src = tmp_path / "cats.jsonl"
    src.write_text('{"text": "Solve x+1=2", "category": "math"}\n{"prompt": "Fix my loop", "category": "code", "split": "test"}\n')
    records = list(from_prompt_category(src))
    assert [(r.prompt, r.category, r.experts) for r in records] == [("Solve x+1=2", "math", {}), ("Fix my loop", "code", {})]


def test_prompt_category_file_missing_category_names_the_line(tmp_path):
    src = tmp_path / "cats.jsonl"
    src.write_text('{"text": "ok", "category": "math"}\n{"text": "no label"}\n')
    with pytest.raises(DatasetError, match=r"cats.jsonl:2: category: missing or empty"):
        list(from_prompt_category(src))


def test_demo_dataset_is_synthetic_and_covers_every_default_expert():
    ds = load_dataset(DEMO, require_complete=True)
    rows = [json.loads(line) for line in DEMO.read_text().splitlines()]
    assert all(r["synthetic"] for r in rows)
    assert len(ds) >= 300 and set(ds.splits) == {"train", "test"}
    from orchestrator.config import load_config

    assert set(ds.experts) == set(load_config(REPO / "experts.yaml").expert_names)


def test_demo_dataset_regenerates_identically(tmp_path):
    from orchestrator.demo.dataset import main

    out = tmp_path / "demo.jsonl"
    main(["--out", str(out)])
    assert out.read_text() == DEMO.read_text()


runner = CliRunner()


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not present on this machine")
def test_cli_inspect_routerbench_reports_rows_experts_best_single_and_oracle():
    result = runner.invoke(app, ["data", "inspect", str(SHARED / "routerbench3.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)
    assert s["rows"] == 3150 and len(s["experts"]) == 11
    test = next(v for v in s["views"] if v["name"] == "test")
    assert test["best_single"] == "gpt-4-1106-preview"
    assert test["best_single_accuracy"] == pytest.approx(0.879, abs=5e-4)
    assert test["oracle_accuracy"] == pytest.approx(0.976, abs=5e-4)


def test_cli_inspect_prints_tables_for_the_demo_dataset():
    result = runner.invoke(app, ["data", "inspect", str(DEMO)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "rows: 330" in result.stdout and "oracle" in result.stdout and "deepseek-r1-distill-qwen-7b" in result.stdout


def test_cli_inspect_malformed_file_exits_two_without_traceback(tmp_path):
    f = _write(tmp_path, [_row(1, a=2.0)])
    result = runner.invoke(app, ["data", "inspect", str(f)])
    assert result.exit_code == 2
    assert "d.jsonl:1: experts.a.score" in result.stderr and "Traceback" not in result.output
