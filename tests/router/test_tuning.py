"""Cross-validated choices: the one-standard-error rule for the cost weight and the coverage
selector's tuning, on hand-made CV tables."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.router.tuning import choose_cover, fold_mean_and_se, one_standard_error


def test_fold_mean_and_se_is_the_std_of_fold_means_over_root_k():
    values = np.array([1, 1, 0, 1, 0, 0, 1, 1], dtype=float)
    folds = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    mean, se = fold_mean_and_se(values, folds)
    fold_means = np.array([1.0, 0.5, 0.0, 1.0])
    assert mean == pytest.approx(0.625)
    assert se == pytest.approx(fold_means.std(ddof=1) / 2.0)


def test_one_standard_error_picks_the_cheapest_setting_within_one_se_of_the_best():
    # cost weight:     0      0.01   0.02   0.05   0.1
    accuracy = [0.880, 0.882, 0.876, 0.873, 0.850]
    se = [0.010, 0.008, 0.009, 0.010, 0.012]
    cost = [5.0, 4.6, 4.2, 3.5, 1.0]
    # Best is index 1 (0.882 +- 0.008): the band is >= 0.874; index 3 (0.873) falls just outside.
    assert one_standard_error(accuracy, se, cost) == 2


def test_one_standard_error_keeps_the_best_when_nothing_cheaper_is_close():
    assert one_standard_error([0.90, 0.80, 0.70], [0.01, 0.01, 0.01], [3.0, 2.0, 1.0]) == 0


def test_one_standard_error_ties_on_cost_go_to_the_first_setting():
    assert one_standard_error([0.90, 0.90, 0.90], [0.0, 0.0, 0.0], [2.0, 2.0, 2.0]) == 0


def test_choose_cover_prefers_local_statistics_when_neighbours_predict_failures():
    # Two kinds of query, alternating. Experts 0/1 are right on kind A only, experts 2/3 on kind B
    # only, expert 4 never. Every row's neighbours are rows of its own kind, so the local estimate
    # knows which pair to use; the global one picks the same trio for everyone.
    n = 40
    kind_a = np.arange(n) % 2 == 0
    truth = np.zeros((n, 5))
    truth[kind_a, 0] = truth[kind_a, 1] = 1.0
    truth[~kind_a, 2] = truth[~kind_a, 3] = 1.0
    folds = np.arange(n) % 4
    neighbours = np.array([[j for j in range(n) if j % 2 == i % 2 and folds[j] != folds[i]][:8] for i in range(n)])
    choice = choose_cover(truth, neighbours, folds, n_neighbors=(4, 8), k=1)
    assert choice.alpha > 0 and choice.cv_coverage == 1.0


def test_choose_cover_falls_back_to_global_statistics_when_neighbours_are_uninformative():
    # Neighbours are random rows: local and global estimates agree in expectation, ties go to alpha 0.
    rng = np.random.default_rng(0)
    n = 60
    truth = (rng.random((n, 5)) < np.array([0.9, 0.5, 0.5, 0.3, 0.1])).astype(float)
    truth[:, 4] = 1.0 - truth[:, 0]  # the weak expert is right exactly where the best one fails
    folds = np.arange(n) % 3
    neighbours = np.array([rng.choice(np.flatnonzero(folds != folds[i]), 20, replace=False) for i in range(n)])
    choice = choose_cover(truth, neighbours, folds, n_neighbors=(20,), k=2)
    assert choice.cv_coverage == 1.0 and choice.alpha == 0.0


def test_free_accuracy_takes_only_savings_that_cost_no_cv_accuracy():
    from orchestrator.router.tuning import free_accuracy

    # Setting 2 is within one SE (the one-SE rule would take it) but loses 0.8 points: not free.
    accuracy, se, cost = [0.900, 0.899, 0.892, 0.850], [0.008] * 4, [4.0, 3.0, 2.0, 1.0]
    assert free_accuracy(accuracy, se, cost) == 1
    assert one_standard_error(accuracy, se, cost) == 2


def test_free_accuracy_never_goes_below_the_floor_unless_the_best_does():
    from orchestrator.router.tuning import free_accuracy

    accuracy, se, cost = [0.9000, 0.8995, 0.8990], [0.008] * 3, [3.0, 2.0, 1.0]
    assert free_accuracy(accuracy, se, cost) == 2  # 0.001 is free (tolerance 0.002)...
    assert free_accuracy(accuracy, se, cost, floor=0.8994) == 1  # ...but not below a simple policy's 0.8994
    assert free_accuracy(accuracy, se, cost, floor=0.95) == 0  # a floor above the best: keep the best
