"""Metric functions against small cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orchestrator.evaluation.metrics import (
    bootstrap_means,
    cost_of_pass,
    cost_quality_auc,
    gap_recovered,
    percentile_ci,
    strong_weak_curve,
    upper_hull,
)

# Four queries; the policy prefers them in order 0, 1, 2, 3. Strong is right on 0, 1, 3;
# weak only on 3. Sending the top j to strong gives accuracy 1/4, 2/4, 3/4, 3/4, 3/4.
PREF = np.array([4.0, 3.0, 2.0, 1.0])
STRONG = np.array([1.0, 1.0, 0.0, 1.0])
WEAK = np.array([0.0, 0.0, 0.0, 1.0])


def test_strong_weak_curve_accuracy_and_pgr_by_hand():
    c = strong_weak_curve(PREF, STRONG, WEAK)
    assert c.strong_fraction.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert c.accuracy.tolist() == [0.25, 0.5, 0.75, 0.75, 0.75]
    assert c.pgr.tolist() == [0.0, 0.5, 1.0, 1.0, 1.0]


def test_apgr_is_the_trapezoid_area_under_pgr():
    # 0.25 * (0 + 0.5) / 2 + 0.25 * (0.5 + 1) / 2 + 0.25 + 0.25
    assert strong_weak_curve(PREF, STRONG, WEAK).apgr == pytest.approx(0.75)


def test_apgr_of_a_random_like_preference_is_one_half_when_all_rows_tie():
    # Ties move together: the curve is the straight line from weak to strong.
    c = strong_weak_curve(np.zeros(4), STRONG, WEAK)
    assert c.strong_fraction.tolist() == [0.0, 1.0]
    assert c.apgr == pytest.approx(0.5)


def test_cpt_interpolates_between_sweep_points():
    c = strong_weak_curve(PREF, STRONG, WEAK)
    assert c.cpt(0.5) == pytest.approx(0.25)
    assert c.cpt(0.8) == pytest.approx(0.25 + 0.25 * 0.3 / 0.5)
    assert c.cpt(1.0) == pytest.approx(0.5)


def test_cpt_is_none_when_the_target_is_never_reached():
    assert strong_weak_curve(PREF, STRONG, WEAK).cpt(1.5) is None


def test_strong_weak_curve_is_none_when_strong_and_weak_tie():
    assert strong_weak_curve(PREF, STRONG, STRONG) is None


def test_cost_of_pass_divides_mean_cost_by_accuracy():
    assert cost_of_pass(0.02, 0.5) == pytest.approx(0.04)


def test_cost_of_pass_is_infinite_when_never_right_and_none_without_costs():
    assert math.isinf(cost_of_pass(0.02, 0.0))
    assert cost_of_pass(None, 0.7) is None


def test_gap_recovered_measures_progress_from_best_single_to_oracle():
    assert gap_recovered(0.85, 0.8, 0.9) == pytest.approx(0.5)
    assert gap_recovered(0.75, 0.8, 0.9) == pytest.approx(-0.5)
    assert gap_recovered(0.8, 0.8, 0.8) is None


def test_upper_hull_drops_dominated_and_concave_points():
    hx, hy = upper_hull(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.5, 0.8, 0.7, 0.9]))
    assert hx.tolist() == [1.0, 2.0, 4.0]
    assert hy.tolist() == [0.5, 0.8, 0.9]


def test_cost_quality_auc_by_hand():
    # Chord from (1, 0.5) to (3, 0.9): mean height 0.7.
    assert cost_quality_auc(np.array([1.0, 3.0]), np.array([0.5, 0.9]), 1, 3) == pytest.approx(0.7)
    # (1, .5) -> (2, .9) -> flat: (0.7 + 0.9) / 2.
    assert cost_quality_auc(np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.9, 0.9]), 1, 3) == pytest.approx(0.8)


def test_cost_quality_auc_is_flat_beyond_the_most_expensive_point_and_zero_below_the_cheapest():
    assert cost_quality_auc(np.array([2.0]), np.array([0.6]), 0, 4) == pytest.approx(0.6 * 2 / 4)


def test_bootstrap_is_identical_for_identical_seeds_and_differs_otherwise():
    values = np.random.default_rng(3).random((200, 2))
    a = bootstrap_means(values, n_boot=300, seed=7)
    c = bootstrap_means(values, n_boot=300, seed=8)
    assert a.shape == (300, 2)
    assert np.array_equal(a, bootstrap_means(values, n_boot=300, seed=7))
    assert not np.array_equal(a, c)


def test_bootstrap_does_not_depend_on_the_chunk_size_that_bounds_memory():
    values = np.random.default_rng(3).random((200, 2))
    assert np.allclose(bootstrap_means(values, n_boot=300, seed=7), bootstrap_means(values, n_boot=300, seed=7, chunk=17))


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_more_rows():
    rng = np.random.default_rng(0)
    small, large = rng.random(100), rng.random(10_000)
    lo_s, hi_s = percentile_ci(bootstrap_means(small, n_boot=500, seed=0)[:, 0])
    lo_l, hi_l = percentile_ci(bootstrap_means(large, n_boot=500, seed=0)[:, 0])
    assert lo_s < small.mean() < hi_s
    assert lo_l < large.mean() < hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 3
