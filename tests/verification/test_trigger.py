import pytest

from orchestrator.config import VerificationSettings
from orchestrator.verification import decide_trigger, plurality

DEFAULT = VerificationSettings()


def test_consensus_does_not_trigger():
    assert not decide_trigger(["42", "42", "42"], DEFAULT).fire


@pytest.mark.parametrize(
    ("answers", "disagreement", "fires"),
    [
        (["42", "41", "42"], "any", True),
        (["42", "41", "42"], "no_majority", False),  # a clear 2-1 majority stays a vote by default
        (["42", "41", "40"], "no_majority", True),
        (["42", "41"], "no_majority", True),  # 1-1: no strict majority
        (["42", "41", "40"], "off", False),
        (["42", None, None], "any", False),  # only one extracted answer
    ],
)
def test_disagreement_trigger(answers, disagreement, fires):
    decision = decide_trigger(answers, VerificationSettings(disagreement=disagreement))
    assert decision.fire is fires
    assert ("disagreement" in decision.reasons) is fires


def test_aggregator_disagreeing_with_the_plurality_triggers():
    decision = decide_trigger(["42", "42", "41"], DEFAULT, aggregated="41")
    assert decision.reasons == ["aggregator_vs_plurality"]


def test_low_confidence_triggers_only_below_the_threshold():
    assert decide_trigger(["42"], DEFAULT, confidence=0.5).reasons == ["low_confidence"]
    assert not decide_trigger(["42"], DEFAULT, confidence=0.8).fire
    assert not decide_trigger(["42"], DEFAULT, confidence=None).fire


def test_high_stakes_category_always_triggers():
    settings = VerificationSettings(high_stakes_categories=["medical"])
    assert decide_trigger(["A", "A"], settings, category="medical").reasons == ["high_stakes"]
    assert not decide_trigger(["A", "A"], settings, category="math").fire


def test_plurality_breaks_ties_by_rank():
    assert plurality(["41", "42", "42", "41"]) == "41"
    assert plurality([None, None]) is None
