import pytest

from orchestrator.config import VerificationSettings
from orchestrator.verification import decide_trigger, plurality

# Every reason fires on its own (no confidence gate): the trigger as it reads without require_low_confidence.
DEFAULT = VerificationSettings(disagreement="no_majority", require_low_confidence=False, trigger_confidence=0.7)


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
    decision = decide_trigger(answers, DEFAULT.model_copy(update={"disagreement": disagreement}))
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
    settings = DEFAULT.model_copy(update={"high_stakes_categories": ["medical"]})
    assert decide_trigger(["A", "A"], settings, category="medical").reasons == ["high_stakes"]
    assert not decide_trigger(["A", "A"], settings, category="math").fire


def test_plurality_breaks_ties_by_rank():
    assert plurality(["41", "42", "42", "41"]) == "41"
    assert plurality([None, None]) is None


GATED = VerificationSettings(disagreement="no_majority", require_low_confidence=True, trigger_confidence=0.5)


def test_the_confidence_gate_lets_a_disagreement_through_only_when_confidence_is_low():
    fired = decide_trigger(["42", "41", "40"], GATED, confidence=0.3)
    assert fired.fire and fired.reasons == ["disagreement", "low_confidence"]
    held = decide_trigger(["42", "41", "40"], GATED, confidence=0.8)
    assert not held.fire and held.reasons == []
    assert held.to_dict()["held"] == "confidence 0.800 >= trigger_confidence 0.5"
    assert held.to_dict()["confidence"] == 0.8


def test_under_the_gate_low_confidence_alone_does_not_fire():
    # A 2-1 split is no disagreement under no_majority: nothing for the gate to let through.
    decision = decide_trigger(["42", "42", "41"], GATED, confidence=0.1)
    assert not decision.fire and decision.reasons == ["low_confidence"]


def test_the_gate_without_a_signal_lets_the_disagreement_through_and_says_so():
    decision = decide_trigger(["42", "41", "40"], GATED, confidence=None)
    assert decision.fire and decision.reasons == ["disagreement"]
    assert decision.held == "no confidence signal: the gate let the disagreement through"


def test_the_gate_never_holds_back_a_high_stakes_category():
    settings = GATED.model_copy(update={"high_stakes_categories": ["medical"]})
    decision = decide_trigger(["42", "41", "40"], settings, confidence=0.9, category="medical")
    assert decision.fire and decision.reasons == ["high_stakes"]


def test_the_gate_also_holds_back_an_aggregator_at_odds_with_the_plurality():
    assert not decide_trigger(["42", "42", "41"], GATED, aggregated="41", confidence=0.9).fire
    assert decide_trigger(["42", "42", "41"], GATED, aggregated="41", confidence=0.2).fire


def test_the_shipped_default_debates_any_split_but_only_under_low_confidence():
    shipped = VerificationSettings()
    assert (shipped.disagreement, shipped.require_low_confidence, shipped.trigger_confidence) == ("any", True, 0.5)
    assert decide_trigger(["42", "42", "41"], shipped, confidence=0.3).fire
    assert not decide_trigger(["42", "42", "41"], shipped, confidence=0.6).fire
    assert not decide_trigger(["42", "42", "42"], shipped, confidence=0.1).fire
