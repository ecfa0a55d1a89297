"""``orchestrator train`` and ``orchestrator route`` end to end on the demo dataset (real MiniLM)."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pytest
import yaml
from typer.testing import CliRunner

from orchestrator.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "orchestrator" / "demo" / "demo_routing.jsonl"
CONFIG = ROOT / "experts.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    if not DEMO.is_file():
        pytest.skip(f"demo dataset absent: {DEMO}")
    out = tmp_path_factory.mktemp("cli") / "router"
    profile = out.parent / "profile.yaml"
    result = CliRunner().invoke(
        app, ["train", "--data", str(DEMO), "--config", str(CONFIG), "--out", str(out), "--seed", "1", "--profile-out", str(profile)]
    )
    assert result.exit_code == 0, result.output
    assert "trained on 235 rows" in result.output
    assert "on the same folds, at the default cost weight: router" in result.output and "kNN k=20" in result.output
    assert (out / "static_tier.joblib").is_file(), "train distils the static tier by default (what serve and route load)"
    assert (out / "static_router.joblib").is_file(), "and fits the router the static tier serves on its own vectors"
    # The dials printed are the ones the gateway serves by default: the static tier's.
    assert "escalation dial (static tier), signal router: match = threshold" in result.output
    # a live signal the data cannot tune is named with what the data lacks (the demo records no log-probabilities)
    assert "no escalation dial for logprob: no token log-probabilities are recorded in this data" in result.output
    printed = {}
    for blob in ("router.joblib", "static_router.joblib"):  # each router's cascade tuned on its own held-out predictions
        tuned = printed[blob] = joblib.load(out / blob)["state"]["escalation_"]
        assert {"router", "posterior", "learned"} <= set(tuned) and set(tuned["router"]) == {"match", "beat"}
        assert all("model" in setting for setting in tuned["learned"].values()), "a learned dial carries its fitted models"
    beat = printed["static_router.joblib"]["router"]["beat"]
    assert f"beat = threshold {beat['threshold']:g}, {beat['probes']} probe(s) at cost weight {beat['probe_cost_weight']:g}" in result.output
    body = yaml.safe_load(profile.read_text())
    assert {e["name"] for e in body["experts"]} <= {"qwen2.5-7b-instruct", "llama-3.1-8b-instruct", "qwen2.5-math-7b-instruct",
                                                     "qwen2.5-coder-7b-instruct", "bio-medical-llama-3-8b",
                                                     "deepseek-r1-distill-qwen-7b", "gemma-2-9b-it"}
    return out


def test_route_json_prints_the_decision(trained):
    result = CliRunner().invoke(app, ["route", "What is the derivative of x^3?", "--artifacts", str(trained), "--json", "--k", "2"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["k"] == 2 and len(d["chosen"]) == 2 and len(d["experts"]) == 7
    assert d["aggregator"] in ("qwen2.5-7b-instruct", "deepseek-r1-distill-qwen-7b")  # the config's aggregators
    assert {"category", "category_probs", "skills", "fallback_reason"} <= d.keys()


def test_route_pretty_output_names_category_and_experts(trained):
    result = CliRunner().invoke(app, ["route", "Write a poem about the sea", "--artifacts", str(trained), "--cost-weight", "0.5"])
    assert result.exit_code == 0, result.output
    assert "category" in result.output and "aggregator" in result.output


def test_route_with_missing_artifacts_exits_2_with_one_line(tmp_path):
    result = CliRunner().invoke(app, ["route", "hello", "--artifacts", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "not a folder" in result.output


def test_train_with_missing_data_file_exits_2(tmp_path):
    result = CliRunner().invoke(app, ["train", "--data", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "file not found" in result.output


def test_train_rejects_what_eval_rejects_with_file_and_line(tmp_path):
    rows = [
        {"id": "a", "prompt": "2+2?", "split": "train", "experts": {"x": {"score": 1.0}, "y": {"score": 0.0}}},
        {"id": "b", "prompt": "3+3?", "split": "train", "experts": {"x": {"score": 1.0}}},
    ]
    data = tmp_path / "gappy.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for command in (["train", "--out", str(tmp_path / "r")], ["eval", "--out", str(tmp_path / "rep")]):
        result = CliRunner().invoke(app, [*command, "--data", str(data), "--no-embedding-cache"])
        assert result.exit_code == 2, result.output
        assert f"{data}:2" in result.output and "no score for y" in result.output


def test_escalation_dials_are_tuned_on_a_seeded_sample_of_a_large_training_split(dataset, fitted):
    import copy

    from router_training.train import tune_escalation_dials

    train, said = dataset.split("train"), []
    router = copy.copy(fitted)
    tune_escalation_dials(router, train, said.append, max_rows=40)
    assert said == [f"tuning the escalation dials on 40 of {len(train)} rows"]
    assert set(router.escalation_["router"]) == {"match", "beat"}


@pytest.mark.parametrize(("default", "exit_code", "says"), [
    ({"signal": "learned", "dial": "beat"}, 0, "escalation.default: dial 'beat' for signal 'learned' is in"),
    ({"signal": "logprob", "dial": "beat"}, 2, "escalation.default.dial: no tuned 'beat' setting for signal 'logprob'"),
])
def test_config_validate_checks_the_default_cascade_against_the_artifact_serve_loads(trained, tmp_path, default, exit_code, says):
    doc = yaml.safe_load(CONFIG.read_text())
    doc["router"]["artifacts"] = str(trained)
    doc["escalation"] = {"default": default}
    path = tmp_path / "experts.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == exit_code, result.output
    assert says in result.output
    if exit_code:
        line = path.read_text().splitlines().index("    dial: beat") + 1
        assert f"{path}:{line}:" in result.output and "ok" not in result.output.split()
    # Without the artifact (not trained yet) the check waits for the gateway to load one.
    doc["router"]["artifacts"] = str(tmp_path / "not-trained-yet")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 0 and "is checked when the gateway loads the router artifact" in result.output
