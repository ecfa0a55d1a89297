"""The gate as a scikit-learn estimator, its cross-validated cost dial, and the offline replay."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone

from orchestrator.retrieval.errors import RetrievalError
from orchestrator.retrieval.gate import QueryGate, fit_gate, gated_accuracy
from orchestrator.retrieval.replay import load_gate, load_outcomes, replay, train_gate_artifact


def _outcomes(tmp_path, n=400, seed=0):
    """Two kinds of question: retrieval helps kind A (no-retrieval is wrong, single is right), hurts kind B.
    Embeddings put the kinds apart; a quarter of the labels are flipped, as real outcomes are noisy.
    Uncertainty scores on some test rows: high perplexity where no-retrieval is wrong."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 2, n)
    X = rng.standard_normal((n, 8)) + np.where(kind[:, None] == 0, 1.5, -1.5)
    rows = []
    for i in range(n):
        nr, single = (0, 1) if kind[i] == 0 else (1, 0)
        if rng.random() < 0.25:
            nr, single = single, nr
        split = "train" if i < n * 0.7 else "test"
        unc = {"perplexity": float(np.exp(2.0 - 1.5 * nr + 0.3 * rng.standard_normal())), "ln_entropy": 1.0, "eigen_score": 0.0, "energy_score": 0.0} if split == "test" else None
        rows.append({"id": f"q{i}", "dataset": "ab"[kind[i]], "split": split, "question": f"q{i}", "correct": {"no_retrieval": nr, "single": single, "multi": single}, "uncertainty": unc})
    path = tmp_path / "outcomes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return load_outcomes(path), X.astype(np.float32)


def test_the_gate_is_a_clonable_estimator_that_retrieves_where_it_helps(tmp_path):
    data, X = _outcomes(tmp_path)
    tr = data.split == "train"
    gate, table = fit_gate(X[tr], data.correct[tr])
    assert clone(gate).get_params() == gate.get_params() and {r["cost_weight"] for r in table} >= {0.0, 0.05}
    chosen = gate.predict(X[~tr])
    acc, rate = gated_accuracy(data.correct[~tr], chosen)
    never, _ = gated_accuracy(data.correct[~tr], np.zeros_like(chosen))
    always, _ = gated_accuracy(data.correct[~tr], np.ones_like(chosen))
    assert acc > max(never, always) + 0.1 and 0.3 < rate < 0.7
    assert QueryGate(cost_weight=1.0).fit(X[tr], data.correct[tr]).predict(X).max() == 0  # a dear dial never retrieves


@pytest.mark.slow
def test_replay_reports_every_policy_per_dataset_and_the_artifact_round_trips(tmp_path):
    data, X = _outcomes(tmp_path, n=260)
    report = replay(data, X)
    assert set(report["test"]) == {"all", "a", "b"}
    overall = report["test"]["all"]
    assert overall["gated: query"]["accuracy"] > overall["always (single)"]["accuracy"]
    assert overall["oracle gate (single)"]["accuracy"] >= overall["gated: query"]["accuracy"]
    assert report["signals_on_uncertainty_rows"]["perplexity"]["auroc_no_retrieval_correct"] > 0.8
    meta = train_gate_artifact(data, X, tmp_path / "gate", fingerprint="test")
    loaded = load_gate(tmp_path / "gate")
    assert loaded["meta"] == meta and loaded["draft_gate"] is not None
    assert np.array_equal(loaded["query_gate"].predict(X), clone(loaded["query_gate"]).fit(X[data.split == "train"], data.correct[data.split == "train"]).predict(X))


def test_a_malformed_outcome_file_names_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "correct": {"no_retrieval": true, "single": true, "multi": false}, "question": "q", "dataset": "d"}\n{"id": 2}\n')
    with pytest.raises(RetrievalError, match=r"bad.jsonl:2: not a retrieval-outcome row"):
        load_outcomes(bad)
