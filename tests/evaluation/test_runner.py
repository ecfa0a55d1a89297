"""The runner around the real router, with fake embeddings: fixed k, the cost dial, notes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from orchestrator.data import load_dataset
from orchestrator.evaluation.runner import EvalOptions, run_evaluation
from synthetic import FakeEmbedder


@pytest.fixture(scope="module")
def k2(synthetic_file: Path):
    return run_evaluation(EvalOptions(data=synthetic_file, k=2, n_boot=0, cost_weights=(0.0, 0.5, 5.0)), embedder=FakeEmbedder()).report


def test_fixed_k_calls_k_experts_for_every_policy_but_the_oracle(k2):
    for name, p in k2.policies.items():
        assert p.calls_per_query == (1.0 if name == "oracle" else 2.0), name


def test_fixed_k_keeps_coverage_vote_and_first_choice_apart(k2):
    p = k2.policies["best_single"]
    assert p.coverage >= p.vote_accuracy - 1e-9 and p.coverage >= p.accuracy
    assert any("k > 1" in note for note in k2.notes)


def test_cost_dial_never_raises_cost_as_the_weight_grows(k2):
    costs = [pt.mean_cost for pt in k2.cost_quality]
    assert [pt.cost_weight for pt in k2.cost_quality] == [0.0, 0.5, 5.0]
    assert costs == sorted(costs, reverse=True)
    assert k2.cost_quality_auc["router_dial"] >= k2.cost_quality_auc["experts_only"]


def test_best_single_panel_is_the_top_two_experts_on_train(k2, synthetic_file: Path):
    train = load_dataset(synthetic_file).split("train")
    ranked = [train.experts[j] for j in np.argsort(-train.scores.mean(axis=0))]
    assert k2.best_single_expert == ranked[0]
    assert set(k2.policies["best_single"].traffic) == set(ranked[:2])


def test_saved_artifacts_replay_exactly_like_the_freshly_fitted_router(synthetic_file: Path, tmp_path: Path):
    from orchestrator.router import TwoLevelRouter

    fresh = run_evaluation(EvalOptions(data=synthetic_file, n_boot=0, cost_weights=(0.0,)), embedder=FakeEmbedder()).report
    train = load_dataset(synthetic_file).split("train")
    TwoLevelRouter(embedder=FakeEmbedder()).fit(train, embeddings=FakeEmbedder().encode(_views(train.prompts))).save(tmp_path / "router")
    loaded = run_evaluation(
        EvalOptions(data=synthetic_file, artifacts=tmp_path / "router", n_boot=0, cost_weights=(0.0,)), embedder=FakeEmbedder()
    ).report
    for name in ("router", "category", "recruiter"):
        assert loaded.policies[name].model_dump() == fresh.policies[name].model_dump(), name
    assert loaded.router["source"] == str(tmp_path / "router")
    # Trained without the static tier: replayed on MiniLM's stand-in, and the report says why.
    assert loaded.router["embedding_tier"] == "minilm"
    assert any("no static embedding tier" in note for note in loaded.notes)


def _views(prompts: list[str]) -> list[str]:
    from orchestrator.router.text import query_views

    return query_views(prompts)


def test_cost_dial_sweep_samples_rows_on_large_splits_and_says_so(synthetic_file: Path):
    report = run_evaluation(
        EvalOptions(data=synthetic_file, n_boot=0, cost_weights=(0.0,), sweep_rows=50), embedder=FakeEmbedder()
    ).report
    assert report.n == 120
    assert any("sample of 50 of the 120 rows" in note for note in report.notes)


def test_the_escalation_replay_samples_rows_on_large_splits_and_says_so(synthetic_file: Path):
    report = run_evaluation(
        EvalOptions(data=synthetic_file, n_boot=0, cost_weights=(0.0,), escalation_rows=50), embedder=FakeEmbedder()
    ).report
    esc = report.escalation
    assert esc is not None and any("seeded sample of 50 of the" in n and "train rows and 50 of the 120 test rows" in n for n in esc["notes"])
    test = load_dataset(synthetic_file).split("test")
    rows = test.sample_rows(50, seed=0)  # the table is scored on this sample of the test rows
    top = test.experts.index(esc["top_model"])
    assert esc["policies"]["best_single"]["accuracy"] == pytest.approx(test.scores[rows, top].mean())
    assert {"cascade_router_match", "cascade_learned_beat"} <= set(esc["policies"])


def test_the_report_sets_the_router_beside_its_simple_policies_on_train_cv(k2):
    cv = k2.router["cv_policies"]
    assert set(cv) == {"router", "category", "knn"}
    assert cv["knn"]["router_gain"] == pytest.approx(cv["router"]["accuracy"] - cv["knn"]["accuracy"])
    assert any(note.startswith("train CV (the router's own folds") and "kNN k=20" in note for note in k2.notes)
