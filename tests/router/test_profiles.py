"""Symbolic-MoE profile arithmetic against a hand-computed example."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.router.profiles import SkillProfiles, global_competence, local_suitability, recruiter_weights

# Three questions, two experts A and B.
#   q1 skills {algebra, geometry}: A right, B wrong
#   q2 skills {algebra}:           A wrong, B right
#   q3 skills {geometry}:          A right, B right
ROW_SKILLS = [["algebra", "geometry"], ["algebra"], ["geometry"]]
SCORES = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])


def profiles() -> SkillProfiles:
    return SkillProfiles.fit(ROW_SKILLS, SCORES, ["A", "B"])


def test_profiles_net_is_wins_minus_losses_per_skill():
    p = profiles()
    assert p.skills == ["algebra", "geometry"]
    # algebra: A +1 -1 = 0, B -1 +1 = 0; geometry: A +1 +1 = 2, B -1 +1 = 0
    np.testing.assert_array_equal(p.net, [[0, 0], [2, 0]])
    np.testing.assert_array_equal(p.n_seen, [2, 2])


def test_profiles_rate_is_laplace_smoothed():
    np.testing.assert_allclose(profiles().rate, [[0, 0], [2 / 4, 0]])


def test_profiles_fractional_score_counts_as_partial_win():
    p = SkillProfiles.fit([["s"]], np.array([[0.75, 0.5]]), ["A", "B"])
    np.testing.assert_allclose(p.net, [[0.5, 0.0]])


def test_global_competence_squares_shifted_totals():
    # G = (2, 0): no negatives, so gamma = (4, 0) / 4
    np.testing.assert_allclose(global_competence(profiles()), [1.0, 0.0])
    neg = SkillProfiles(skills=["s"], experts=["A", "B"], net=np.array([[-2.0, 1.0]]), n_seen=np.array([3.0]))
    # shift by -min + 1: (1, 4) -> squared (1, 16) / 17
    np.testing.assert_allclose(global_competence(neg), [1 / 17, 16 / 17])


def test_local_suitability_sums_profile_over_query_skills():
    p = profiles()
    hot = p.multi_hot([["geometry"], ["algebra", "geometry"], ["unknown"]])
    np.testing.assert_array_equal(local_suitability(p, hot), [[2, 0], [2, 0], [0, 0]])


@pytest.mark.parametrize(
    ("skills", "expected"),
    [
        (["geometry"], [1.0, 0.0]),  # only A has S > 0
        (["unknown"], [0.5, 0.5]),  # no known skill: uniform
    ],
)
def test_recruiter_weights_follow_paper_rules(skills, expected):
    p = profiles()
    np.testing.assert_allclose(recruiter_weights(p, p.multi_hot([skills]))[0], expected)


def test_recruiter_weights_shift_when_no_expert_is_positive():
    p = SkillProfiles(skills=["s"], experts=["A", "B"], net=np.array([[-1.0, -3.0]]), n_seen=np.array([4.0]))
    # S = (-1, -3) -> shifted (3, 1); gamma from G = (-1, -3) -> shifted (3, 1) -> (9, 1)/10
    w = recruiter_weights(p, p.multi_hot([["s"]]))[0]
    np.testing.assert_allclose(w, np.array([27, 1]) / 28)
