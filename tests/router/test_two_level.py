"""The two-level router on synthetic data where the right expert depends on the query."""

from __future__ import annotations

import json

import numpy as np
import pytest

from orchestrator.errors import RoutingError
from orchestrator.router import RoutingDecision, TwoLevelRouter

EXPERTS = ["cheap-math", "generalist", "pricey-history"]  # conftest's synthetic experts


def routed_accuracy(router, ds, **kw) -> tuple[float, float]:
    decisions = router.route(ds.prompts, k=1, **kw)
    picks = np.array([EXPERTS.index(d.chosen[0]) for d in decisions])
    rows = np.arange(len(ds))
    return float(ds.scores[rows, picks].mean()), float(ds.costs[rows, picks].mean())


def test_two_level_router_beats_every_single_expert_when_skills_differ(fitted, dataset):
    test = dataset.split("test")
    acc, _ = routed_accuracy(fitted, test)
    assert acc > 0.95 > test.scores.mean(axis=0).max()


def test_predict_quality_has_one_column_per_expert_in_order(fitted, dataset):
    q = fitted.predict_quality(dataset.split("test").prompts[:5])
    assert q.shape == (5, 3) and fitted.experts_ == EXPERTS
    assert ((q >= 0) & (q <= 1)).all()


def test_route_decision_is_json_ready_and_ranks_every_expert(fitted):
    d = fitted.route(["integral of a polynomial fraction"], k=2)[0]
    assert isinstance(d, RoutingDecision)
    assert d.category == "math" and d.k == 2 and d.chosen[0] == "cheap-math"
    assert [e.name for e in d.experts][0] == "cheap-math" and len(d.experts) == 3
    assert d.aggregator in EXPERTS and "category:math" in d.skills
    payload = json.loads(json.dumps(d.to_dict()))
    assert {"category", "category_probs", "skills", "experts", "k", "chosen", "aggregator", "fallback_reason"} <= payload.keys()


def test_route_falls_back_to_general_when_category_is_uncertain(dataset, embedder):
    router = TwoLevelRouter(embedder=embedder, cv=3, n_neighbors_grid=(5,), C_grid=(1.0,), entropy_threshold=0.0)
    router.fit(dataset.split("train"))
    d = router.route(["integral of a polynomial"])[0]
    assert d.category == "general" and "entropy" in d.fallback_reason
    assert router.category_expert_["general"] == "generalist"  # the strongest generalist
    confident = router.set_params(entropy_threshold=1.0).route(["integral of a polynomial"])[0]
    assert confident.category == "math" and confident.fallback_reason is None


def test_category_mode_routes_to_the_mapped_expert(fitted):
    d = fitted.route(["battle of the empire in the century"], mode="category")[0]
    assert d.chosen == [fitted.category_expert_["history"]] == ["pricey-history"]


def test_recruiter_mode_recruits_only_experts_with_positive_suitability(fitted):
    # On math skills pricey-history's profile is negative (S < 0), so Symbolic-MoE never
    # recruits it; between the other two, global competence (squared) favours the generalist.
    d = fitted.route(["derivative of a matrix equation"], mode="recruiter", k=2)[0]
    assert "pricey-history" not in d.chosen
    assert d.experts[-1].name == "pricey-history" and d.experts[-1].score == 0.0


def test_cost_weight_never_raises_mean_cost(fitted, dataset):
    test = dataset.split("test")
    costs = [routed_accuracy(fitted, test, cost_weight=w)[1] for w in (0.0, 0.1, 0.5, 1.0, 5.0)]
    assert all(b <= a + 1e-12 for a, b in zip(costs, costs[1:], strict=False))


def test_cost_weight_cv_routes_at_the_weight_cross_validation_chose(fitted, dataset):
    test = dataset.split("test")
    curve = fitted.blend_.cost_curve
    assert [c["cost_weight"] for c in curve][0] == 0.0 and all(c["se"] >= 0 for c in curve)
    assert fitted.cv_cost_weight_ in [c["cost_weight"] for c in curve]
    auto = fitted.set_params(cost_weight="cv").route(test.prompts, k=1)
    fitted.set_params(cost_weight=0.0)
    explicit = fitted.route(test.prompts, k=1, cost_weight=fitted.cv_cost_weight_)
    assert [d.chosen for d in auto] == [d.chosen for d in explicit]


def test_cross_validation_scores_the_router_beside_its_simple_policies_and_the_default_never_drops_below_them(fitted):
    cv = fitted.cv_policies_
    assert set(cv) == {"router", "category", "knn"}
    for name in ("category", "knn"):
        assert 0.0 <= cv[name]["accuracy"] <= 1.0 and cv[name]["router_gain_se"] >= 0.0
        assert cv[name]["router_gain"] == pytest.approx(cv["router"]["accuracy"] - cv[name]["accuracy"])
    chosen = next(c for c in fitted.blend_.cost_curve if c["cost_weight"] == fitted.cv_cost_weight_)
    best = max(c["accuracy"] for c in fitted.blend_.cost_curve)
    assert chosen["accuracy"] >= min(best, max(cv["category"]["accuracy"], cv["knn"]["accuracy"])) - 1e-12


def test_cover_selection_covers_what_top_k_misses(dataset, embedder):
    # Globally the generalist fails least, so a fixed pair starts with it and misses the rows
    # where it and the chosen specialist both fail; the query's neighbours say which specialist
    # never fails on this kind of query, and cross-validation finds that out.
    router = TwoLevelRouter(embedder=embedder, cv=3, n_neighbors_grid=(5, 10), C_grid=(1.0,), selection="cover")
    router.fit(dataset.split("train"))
    assert router.cover_.alpha > 0  # cross-validation found the neighbours informative
    test = dataset.split("test")
    covered = [max(test.scores[i, EXPERTS.index(e)] for e in d.chosen) for i, d in enumerate(router.route(test.prompts, k=2))]
    assert np.mean(covered) == 1.0
    assert all(len(set(d.chosen)) == 2 for d in router.route(test.prompts, k=2))


def test_budget_excludes_experts_that_cost_too_much(fitted):
    d = fitted.route(["battle of the empire"], k=1, budget=2.0)[0]
    assert d.chosen == ["cheap-math"]
    none_fit = fitted.route(["battle of the empire"], k=1, budget=0.1)[0]
    assert none_fit.chosen == ["cheap-math"] and "budget" in none_fit.fallback_reason


def test_allowed_experts_restricts_choice_and_rejects_unknown_names(fitted):
    d = fitted.route(["integral"], k=1, allowed_experts=["generalist"])[0]
    assert d.chosen == ["generalist"]
    with pytest.raises(RoutingError, match="unknown experts"):
        fitted.route(["integral"], allowed_experts=["nope"])


def test_sample_selection_draws_k_with_replacement(dataset, embedder):
    router = TwoLevelRouter(embedder=embedder, cv=3, n_neighbors_grid=(5,), C_grid=(1.0,), selection="sample", random_state=3)
    router.fit(dataset.split("train"))
    decisions = router.route(dataset.split("test").prompts, k=3)
    assert all(len(d.chosen) == 3 for d in decisions)
    assert any(len(set(d.chosen)) < 3 for d in decisions)  # duplicates happen


def test_dynamic_k_stays_within_bounds(fitted, dataset):
    ks = [d.k for d in fitted.route(dataset.split("test").prompts)]
    assert all(fitted.k_min <= k <= fitted.k_max for k in ks)


def test_precomputed_embeddings_give_the_same_decisions(fitted, dataset, embedder):
    prompts = dataset.split("test").prompts[:10]
    from orchestrator.router.text import query_views

    X = embedder.encode(query_views(prompts))
    assert [d.chosen for d in fitted.route(prompts, embeddings=X)] == [d.chosen for d in fitted.route(prompts)]


def test_fit_with_config_uses_the_intersection_and_reports_the_rest(dataset, embedder):
    from orchestrator.config import parse_config

    cfg = parse_config(
        "experts:\n"
        "  - {name: cheap-math, model: openai/a, roles: [expert, aggregator]}\n"
        "  - {name: generalist, model: openai/b}\n"
        "  - {name: not-in-data, model: openai/c}\n"
    )
    router = TwoLevelRouter(embedder=embedder, cv=3, n_neighbors_grid=(5,), C_grid=(1.0,)).fit(dataset.split("train"), config=cfg)
    assert router.experts_ == ["cheap-math", "generalist"]
    assert router.expert_report_["only_in_data"] == ["pricey-history"]
    assert router.expert_report_["only_in_config"] == ["not-in-data"]
    assert set(router.aggregator_.values()) == {"cheap-math"}  # the only expert with the aggregator role


def test_route_before_fit_is_a_clear_error(embedder):
    with pytest.raises(RoutingError, match="not fitted"):
        TwoLevelRouter(embedder=embedder).route(["x"])


def test_fit_with_category_file_learns_its_extra_categories(dataset, embedder):
    from orchestrator.data import CategoryFile

    texts = [f"sonnet rhyme stanza verse poem {i}" for i in range(30)]
    extra = CategoryFile(texts=texts, categories=["writing"] * 30, labels=[None] * 30, splits=["train"] * 30)
    router = TwoLevelRouter(embedder=embedder, cv=3, n_neighbors_grid=(5,), C_grid=(1.0,)).fit(dataset.split("train"), categories=extra)
    assert router.categories_ == ["history", "math", "writing"]
    d = router.route(["a sonnet with rhyme and verse"], k=1)[0]
    assert d.category == "writing"
    # No routing rows carry 'writing': its category prior is the overall one, mapped to the best generalist.
    assert router.category_expert_["writing"] == "generalist"
