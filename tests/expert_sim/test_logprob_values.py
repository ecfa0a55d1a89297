"""Simulated token log-probabilities follow whether the replayed answer is right."""

from __future__ import annotations

import math

import numpy as np

from services.expert_sim.logprob_values import ANSWER_TOKENS, token_logprobs


def _answer_p(correct, i):
    return math.exp(np.mean(token_logprobs(30, correct, expert="e", prompt=f"q{i}")[-ANSWER_TOKENS:]))


def test_logprobs_are_deterministic_per_expert_and_prompt_and_never_positive():
    a = token_logprobs(20, True, seed=1, expert="e", prompt="p")
    assert a == token_logprobs(20, True, seed=1, expert="e", prompt="p")
    assert a != token_logprobs(20, True, seed=1, expert="f", prompt="p")
    assert len(a) == 20 and all(v <= 0 for v in a)
    assert token_logprobs(0, True) == []


def test_right_answers_are_more_confident_than_wrong_ones_but_they_overlap():
    right = np.array([_answer_p(True, i) for i in range(300)])
    wrong = np.array([_answer_p(False, i) for i in range(300)])
    # AUROC of the answer's probability for telling right from wrong: informative, not perfect.
    auroc = (right[:, None] > wrong[None, :]).mean()
    assert 0.75 < auroc < 0.99
    assert right.mean() > 0.75 and wrong.mean() < 0.55
    unknown = np.array([_answer_p(None, i) for i in range(300)])
    assert wrong.mean() < unknown.mean() < right.mean()


def test_the_mean_over_a_long_answer_is_no_surer_a_signal_than_the_answer_tokens():
    """Cascades read the mean log-probability of the whole answer; averaging many reasoning
    tokens must not sharpen the declared overlap into a near-perfect signal."""

    def auroc(values_of):
        right = np.array([values_of(token_logprobs(200, True, expert="e", prompt=f"q{i}")) for i in range(300)])
        wrong = np.array([values_of(token_logprobs(200, False, expert="e", prompt=f"q{i}")) for i in range(300)])
        return (right[:, None] > wrong[None, :]).mean()

    whole, answer = auroc(np.mean), auroc(lambda v: np.mean(v[-ANSWER_TOKENS:]))
    assert whole < 0.95
    assert abs(whole - answer) < 0.03
