"""The gate as a scikit-learn estimator, its cross-validated cost dial, and the offline replay."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone

from orchestrator.retrieval.errors import RetrievalError
from orchestrator.retrieval.gate import QueryGate, cv_dial, fit_gate, gated_accuracy, pick_dial
from orchestrator.retrieval.replay import load_gate, load_outcomes, replay, train_gate_artifact


def _outcomes(tmp_path, n=400, seed=0):
    """Two kinds of question: retrieval helps kind A (no-retrieval is wrong, single is right), hurts kind B.
    Embeddings put the kinds apart; a quarter of the labels are flipped, as real outcomes are noisy.
    Uncertainty scores on three test rows in four (as on the real data, some rows carry only the
    query): high perplexity where no-retrieval is wrong."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 2, n)
    X = rng.standard_normal((n, 8)) + np.where(kind[:, None] == 0, 1.5, -1.5)
    rows = []
    for i in range(n):
        nr, single = (0, 1) if kind[i] == 0 else (1, 0)
        if rng.random() < 0.25:
            nr, single = single, nr
        split = "train" if i < n * 0.7 else "test"
        unc = {"perplexity": float(np.exp(2.0 - 1.5 * nr + 0.3 * rng.standard_normal())), "ln_entropy": 1.0, "eigen_score": 0.0, "energy_score": 0.0} if split == "test" and i % 4 else None
        rows.append({"id": f"q{i}", "dataset": "ab"[kind[i]], "split": split, "question": f"q{i}", "correct": {"no_retrieval": nr, "single": single, "multi": single}, "uncertainty": unc})
    path = tmp_path / "outcomes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return load_outcomes(path), X.astype(np.float32)


def test_the_gate_is_a_clonable_estimator_that_retrieves_where_it_helps(tmp_path):
    data, X = _outcomes(tmp_path)
    tr = data.split == "train"
    gate, dial = fit_gate(X[tr], data.correct[tr])
    assert clone(gate).get_params() == gate.get_params() and {r["cost_weight"] for r in dial.table} >= {0.0, 0.05}
    assert (gate.C, gate.cost_weight) == (dial.C, dial.cost_weight) and dial.within_budget
    chosen = gate.predict(X[~tr])
    acc, rate = gated_accuracy(data.correct[~tr], chosen)
    never, _ = gated_accuracy(data.correct[~tr], np.zeros_like(chosen))
    always, _ = gated_accuracy(data.correct[~tr], np.ones_like(chosen))
    assert acc > max(never, always) + 0.1 and 0.3 < rate < 0.7
    assert QueryGate(cost_weight=1.0).fit(X[tr], data.correct[tr]).predict(X).max() == 0  # a dear dial never retrieves


def _row(w, acc, rate, se=0.01):
    return {"C": 1.0, "cost_weight": w, "accuracy": acc, "se": se, "retrieval_rate": rate}


# A CV table like the real one: accuracy falls as the dial rises and the retrieval rate drops.
TABLE = [_row(0.0, 0.349, 0.99), _row(0.01, 0.345, 0.95), _row(0.02, 0.342, 0.85), _row(0.04, 0.325, 0.50),
         _row(0.045, 0.322, 0.497), _row(0.05, 0.311, 0.35), _row(0.1, 0.287, 0.0)]


def test_without_a_budget_the_dial_is_the_cheapest_within_one_standard_error_of_the_best():
    pick = pick_dial(TABLE)
    assert (pick["cost_weight"], pick["within_budget"]) == (0.02, True)  # 0.342 >= 0.349 - 0.01
    assert pick_dial(TABLE, max_rate=1.0)["cost_weight"] == 0.02  # a budget that does not bind changes nothing


def test_a_retrieval_budget_takes_the_most_accurate_dial_whose_cv_rate_is_within_it():
    assert pick_dial(TABLE, max_rate=0.5)["cost_weight"] == 0.04  # rate exactly at the budget is allowed
    assert pick_dial(TABLE, max_rate=0.4999)["cost_weight"] == 0.045  # just under it: the next one
    assert pick_dial(TABLE, max_rate=0.85)["cost_weight"] == 0.02  # the 1-SE pick fits, exactly
    assert pick_dial(TABLE, max_rate=0.8499)["cost_weight"] == 0.04
    assert pick_dial(TABLE, max_rate=0.0)["cost_weight"] == 0.1  # never retrieving meets a zero budget


def test_equal_accuracy_within_the_budget_goes_to_the_dial_retrieving_less():
    table = [_row(0.0, 0.40, 0.9), _row(0.03, 0.33, 0.45), _row(0.04, 0.33, 0.30)]
    assert pick_dial(table, max_rate=0.5)["cost_weight"] == 0.04


def test_an_unreachable_budget_retrieves_least_and_says_it_was_not_met():
    table = [_row(0.0, 0.40, 0.9), _row(0.05, 0.35, 0.6)]
    pick = pick_dial(table, max_rate=0.5)
    assert (pick["cost_weight"], pick["within_budget"]) == (0.05, False)
    with pytest.raises(ValueError, match="empty"):
        pick_dial([])


def test_the_budget_holds_on_the_cross_validated_rows_of_a_real_fit(tmp_path):
    data, X = _outcomes(tmp_path)
    tr = data.split == "train"
    _, free = fit_gate(X[tr], data.correct[tr])
    # The budget binds (under the unconstrained rate) and is met exactly by some dial: the edge case.
    budget = max(r["retrieval_rate"] for r in free.table if r["retrieval_rate"] < free.retrieval_rate)
    dial = cv_dial(QueryGate(), X[tr], data.correct[tr], Cs=(0.1, 0.3, 1.0), max_rate=budget)
    assert dial.retrieval_rate <= budget and dial.within_budget
    assert dial.accuracy == max(r["accuracy"] for r in dial.table if r["retrieval_rate"] <= budget)


@pytest.mark.slow
def test_replay_reports_every_policy_per_dataset_and_the_artifact_round_trips(tmp_path):
    data, X = _outcomes(tmp_path, n=260)
    report = replay(data, X)
    assert set(report["test"]) == {"all", "a", "b"}
    overall = report["test"]["all"]
    assert overall["gated: query"]["accuracy"] > overall["always (single)"]["accuracy"]
    assert overall["oracle gate (single)"]["accuracy"] >= overall["gated: query"]["accuracy"]
    assert report["signals_on_uncertainty_rows"]["perplexity"]["auroc_no_retrieval_correct"] > 0.8
    assert report["gate"]["max_rate"] == 0.5 and "gated: query, no budget" in overall
    arithmetic = report["target_arithmetic"]
    assert arithmetic["rows_with_uncertainty"] + arithmetic["rows_query_only"] == overall["rows"]
    assert arithmetic["oracle_three_way_on_query_only_rows"] >= arithmetic["query_gate_on_query_only_rows"]
    meta = train_gate_artifact(data, X, tmp_path / "gate", fingerprint="test", max_rate=0.5)
    loaded = load_gate(tmp_path / "gate")
    assert loaded["meta"] == meta and loaded["draft_gate"] is not None
    assert meta["max_rate"] == 0.5 and meta["within_budget"] == (meta["cv_retrieval_rate"] <= 0.5)
    assert np.array_equal(loaded["query_gate"].predict(X), clone(loaded["query_gate"]).fit(X[data.split == "train"], data.correct[data.split == "train"]).predict(X))


def test_a_malformed_outcome_file_names_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "correct": {"no_retrieval": true, "single": true, "multi": false}, "question": "q", "dataset": "d"}\n{"id": 2}\n')
    with pytest.raises(RetrievalError, match=r"bad.jsonl:2: not a retrieval-outcome row"):
        load_outcomes(bad)


def test_train_gate_cli_honours_the_budget_and_rejects_one_out_of_range(tmp_path):
    from typer.testing import CliRunner

    from orchestrator.cli import app

    _outcomes(tmp_path, n=120)  # writes outcomes.jsonl
    out = tmp_path / "gate"
    result = CliRunner().invoke(app, ["train-gate", "--data", str(tmp_path / "outcomes.jsonl"), "--out", str(out), "--max-rate", "0.3"])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "gate.json").read_text())
    assert meta["max_rate"] == 0.3 and "budget 30%" in result.output
    assert meta["within_budget"] == (meta["cv_retrieval_rate"] <= 0.3)
    bad = CliRunner().invoke(app, ["train-gate", "--data", str(tmp_path / "outcomes.jsonl"), "--out", str(out), "--max-rate", "1.5"])
    assert bad.exit_code == 2 and "--max-rate" in bad.output
