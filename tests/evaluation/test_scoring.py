"""Scoring policies on a synthetic dataset, without a router: references, intervals, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.data import load_dataset, summarize
from orchestrator.evaluation.costs import resolve_costs
from orchestrator.evaluation.outcomes import Selection
from orchestrator.evaluation.policies import FixedPolicy, OraclePolicy
from orchestrator.evaluation.scoring import score_policies


class CoinPolicy:
    """A seeded random single expert per row (stands in for a learned policy)."""

    description = "coin"

    def __init__(self, name: str, seed: int):
        self.name, self.seed = name, seed

    def choose(self, ds, embeddings):
        rng = np.random.default_rng(self.seed)
        q = rng.random((len(ds), len(ds.experts)))
        return Selection(chosen=[[int(j)] for j in q.argmax(axis=1)], quality=q)


@pytest.fixture(scope="module")
def test_split(synthetic_file):
    return load_dataset(synthetic_file).split("test")


def _score(ds, seed=0):
    costs = resolve_costs(ds)
    policies = {"best_single": FixedPolicy("best_single", [0]), "coin": CoinPolicy("coin", seed), "oracle": OraclePolicy(costs.matrix)}
    return score_policies(ds, policies, costs=costs, embeddings=None, best_single="best_single", n_boot=200, seed=seed)[0]


def test_oracle_and_best_single_match_data_inspect(synthetic_file, test_split):
    view = next(v for v in summarize(load_dataset(synthetic_file)).views if v.name == "test")
    report = _score(test_split)
    best = test_split.expert_index(view.best_single)
    bs = score_policies(
        test_split, {"best_single": FixedPolicy("best_single", [best])}, costs=resolve_costs(test_split), embeddings=None, n_boot=0
    )[0]
    assert bs.policies["best_single"].accuracy == pytest.approx(view.best_single_accuracy)
    assert report.policies["oracle"].accuracy == pytest.approx(view.oracle_accuracy)
    assert report.policies["oracle"].mean_cost_usd == pytest.approx(view.oracle_mean_cost)


def test_gap_recovered_is_zero_for_best_single_and_one_for_oracle(test_split):
    report = _score(test_split)
    assert report.policies["best_single"].gap_recovered == pytest.approx(0.0)
    assert report.policies["oracle"].gap_recovered == pytest.approx(1.0)


def test_identical_seeds_give_identical_reports_and_other_seeds_do_not(test_split):
    a, b, c = _score(test_split, 1), _score(test_split, 1), _score(test_split, 2)
    assert a.model_dump() == b.model_dump()
    assert a.policies["coin"].ci95 != c.policies["coin"].ci95


def test_intervals_bracket_the_point_estimates(test_split):
    for p in _score(test_split).policies.values():
        lo, hi = p.ci95["accuracy"]
        assert lo <= p.accuracy <= hi
        lo, hi = p.ci95["mean_cost"]
        assert lo <= p.mean_cost <= hi


def test_traffic_shares_sum_to_one_per_policy_and_per_category(test_split):
    for p in _score(test_split).policies.values():
        assert sum(p.traffic.values()) == pytest.approx(1.0)
        for shares in p.category_traffic.values():
            assert sum(shares.values()) == pytest.approx(1.0)


def test_cost_quality_auc_of_the_oracle_beats_plain_experts(test_split):
    aucs = _score(test_split).cost_quality_auc
    assert aucs["oracle"] > aucs["experts_only"]
    assert aucs["best_single"] == pytest.approx(aucs["experts_only"])


def test_apgr_and_cpt_are_reported_for_two_expert_sets(synthetic_file):
    ds = load_dataset(synthetic_file).split("test").select_experts(["alpha", "beta"])
    report = _score(ds)
    assert report.strong_weak is not None
    assert report.policies["oracle"].apgr > report.policies["coin"].apgr
    assert 0.0 <= report.policies["oracle"].cpt50 <= report.policies["oracle"].cpt80 <= 100.0
    assert report.policies["best_single"].apgr is None  # a fixed expert has no preference to sweep
