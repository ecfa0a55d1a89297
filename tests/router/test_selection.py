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

    # Neighbours: expert 0 right on the first half, expert 1 on the same half (correlated),
    # expert 2 on the other half. Top-k by score would pick 0 and 1; cover picks 0 and 2.
    nb = np.array([[[1, 1, 0], [1, 1, 0], [0, 0, 1], [0, 0, 1]]], dtype=float)
    score = np.array([[0.9, 0.8, 0.5]])
    assert greedy_cover(score, nb, np.array([2])) == [[0, 2]]
    assert top_k(score, np.array([2])) == [[0, 1]]
