"""Replaying choices against recorded outcomes: first choice, coverage, vote, cost, calls."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.data import RoutingDataset
from orchestrator.evaluation.outcomes import Selection, score_selection


def _ds(scores, answers) -> RoutingDataset:
    scores = np.array(scores, dtype=float)
    n, m = scores.shape
    nan = np.full((n, m), np.nan)
    return RoutingDataset(
        source="mem", ids=[str(i) for i in range(n)], prompts=["p"] * n, tasks=[None] * n, categories=["c"] * n,
        splits=["test"] * n, lines=list(range(1, n + 1)), experts=["a", "b", "c"][:m], scores=scores,
        costs=nan, output_tokens=nan, output_chars=nan, answers=answers,
    )


def test_first_choice_coverage_and_cost_of_a_three_expert_panel():
    ds = _ds([[0, 1, 0], [1, 0, 0]], [{}, {}])
    cost = np.array([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]])
    out = score_selection(ds, Selection(chosen=[[0, 1], [2, 0, 1]]), cost)
    assert out.first.tolist() == [0.0, 0.0]
    assert out.coverage.tolist() == [1.0, 1.0]
    assert out.cost.tolist() == [3.0, 7.0]
    assert out.calls.tolist() == [2.0, 3.0]


def test_vote_follows_the_majority_of_recorded_answers():
    # a and c agree on the wrong answer "4"; b alone is right.
    ds = _ds([[0, 1, 0]], [{"a": "4", "b": "5", "c": " 4 "}])
    out = score_selection(ds, Selection(chosen=[[1, 0, 2]]), None)
    assert out.first.tolist() == [1.0]
    assert out.vote.tolist() == [0.0]
    assert out.vote_answered.tolist() == [True]


def test_vote_tie_goes_to_the_most_preferred_expert():
    ds = _ds([[0, 1, 0]], [{"a": "4", "b": "5"}])
    assert score_selection(ds, Selection(chosen=[[1, 0]]), None).vote.tolist() == [1.0]
    assert score_selection(ds, Selection(chosen=[[0, 1]]), None).vote.tolist() == [0.0]


def test_vote_falls_back_to_the_first_choice_when_no_chosen_expert_recorded_an_answer():
    ds = _ds([[1, 0, 0], [0, 1, 1]], [{"c": "x"}, {"b": "y"}])
    out = score_selection(ds, Selection(chosen=[[0, 1], [1]]), None)
    assert out.vote.tolist() == [1.0, 1.0]
    assert out.vote_answered.tolist() == [False, True]


def test_score_selection_rejects_a_row_without_experts():
    with pytest.raises(ValueError, match="row 0"):
        score_selection(_ds([[1, 0, 0]], [{}]), Selection(chosen=[[]]), None)
