"""Dynamic k, the cost dial and sampling."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.router.selection import cost_adjusted, dynamic_k, sample_experts, top_k


@pytest.mark.parametrize(
    ("probs", "top_p", "k_min", "k_max", "expected"),
    [
        ([0.6, 0.3, 0.1], 0.5, 1, 3, 1),  # the top expert alone reaches top_p
        ([0.5, 0.3, 0.2], 0.5, 1, 3, 1),  # exactly top_p counts as reached
        ([0.4, 0.3, 0.3], 0.5, 1, 3, 2),
        ([0.34, 0.33, 0.33], 0.9, 1, 3, 3),
        ([0.34, 0.33, 0.33], 0.9, 1, 2, 2),  # bounded by k_max
        ([0.9, 0.05, 0.05], 0.5, 2, 3, 2),  # bounded by k_min
        ([0.9, 0.1, 0.0], 1.0, 1, 3, 2),  # full mass reached with two
    ],
)
def test_dynamic_k_is_smallest_prefix_reaching_top_p(probs, top_p, k_min, k_max, expected):
    assert dynamic_k(np.array([probs]), top_p, k_min, k_max)[0] == expected


def test_cost_dial_never_raises_mean_cost():
    rng = np.random.default_rng(0)
    quality = rng.random((500, 6))
    cost = rng.random((500, 6)) * np.array([1, 2, 4, 8, 16, 32])
    previous = np.inf
    for w in [0.0, 0.01, 0.05, 0.1, 0.3, 1.0, 3.0, 10.0]:
        for k in (1, 3):
            picks = top_k(cost_adjusted(quality, cost, w, cost.max()), np.full(500, k), cost)
            mean_cost = float(np.mean([cost[i, p].sum() for i, p in enumerate(picks)]))
            if k == 1:
                assert mean_cost <= previous + 1e-12
                previous = mean_cost


def test_top_k_breaks_quality_ties_towards_cheaper():
    assert top_k(np.array([[0.8, 0.8, 0.1]]), np.array([1]), np.array([[5.0, 1.0, 0.1]])) == [[1]]


def test_sample_experts_draws_with_replacement_best_first():
    picks = sample_experts(np.array([[1.0, 0.0, 0.0]]), np.array([3]), np.random.default_rng(0))
    assert picks == [[0, 0, 0]]


def test_greedy_cover_adds_the_expert_right_where_the_first_is_wrong():
    from orchestrator.router.selection import greedy_cover

    # Neighbours (1 = failed): expert 0 right on the first half, expert 1 on the same half
    # (correlated, and best alone), expert 2 on the other half. Top-k by score would pick 0
    # and 1, which fail together; cover picks one of the pair, then 2.
    local = np.array([[[0, 0, 1], [0, 0, 1], [1, 1, 0], [1, 1, 0]]], dtype=float)
    local[0, 2, 1] = 0.0  # expert 1 is also right on one of expert 2's rows: the best alone
    assert greedy_cover(local, local[0], np.array([2]), alpha=1.0) == [[1, 2]]
    assert top_k(np.array([[0.9, 0.8, 0.5]]), np.array([2])) == [[0, 1]]


def test_greedy_cover_minimises_the_hand_computed_all_fail_probability():
    from orchestrator.router.selection import greedy_cover

    # Training failures (rows x experts). Alone: P(fail) = 0.5, 0.5, 0.75.
    # Pairs with expert 0: with 1 -> rows 0,1 fail both = 0.5; with 2 -> row 0 only = 0.25.
    global_fail = np.array([[1, 1, 1], [1, 1, 0], [0, 0, 1], [0, 0, 1]], dtype=float)
    # The query's neighbours say expert 1 is the one that is right on them.
    local = np.array([[[1, 0, 1], [1, 0, 1]]], dtype=float)
    assert greedy_cover(local, global_fail, np.array([2]), alpha=0.0) == [[0, 2]]  # the best fixed pair
    # alpha = 1: only the neighbours count -> expert 1 first (never fails there), then the lower index.
    assert greedy_cover(local, global_fail, np.array([2]), alpha=1.0)[0][0] == 1
    # alpha = 0.5: risk of {1} = 0.5 * 0 + 0.5 * 0.5 = 0.25 beats {0} = 0.5 * 1 + 0.5 * 0.5 = 0.75.
    assert greedy_cover(local, global_fail, np.array([1]), alpha=0.5) == [[1]]


def test_greedy_cover_skips_disallowed_experts_and_pays_the_cost_penalty():
    from orchestrator.router.selection import greedy_cover

    global_fail = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=float)  # each expert right on one row
    local = np.ones((1, 2, 3))
    allowed = np.array([[False, True, True]])
    assert greedy_cover(local, global_fail, np.array([3]), alpha=0.0, allowed=allowed) == [[1, 2]]
    penalty = np.array([[0.5, 0.0, 0.5]])  # equal risk; the cheaper (penalty 0) expert goes first
    assert greedy_cover(local, global_fail, np.array([1]), alpha=0.0, penalty=penalty) == [[1]]


def test_cost_scale_is_logarithmic_between_cheapest_and_dearest():
    from orchestrator.router.selection import CostScale

    scale = CostScale.fit(np.array([0.0, 1.0, 10.0, 100.0]))
    assert scale.lo == 1.0 and scale.hi == 100.0
    norm = scale(np.array([0.0, 1.0, 10.0, 100.0]))
    assert norm[0] == 0.0 and norm[-1] == pytest.approx(1.0)
    expected = np.log1p(np.array([1.0, 10.0])) / np.log1p(100.0)
    assert norm[1:3] == pytest.approx(expected)
