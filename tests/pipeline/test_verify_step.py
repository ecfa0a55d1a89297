"""The pipeline's verify step: a verdict can change the answer; its cost joins the request's."""

import pytest

from orchestrator.config import parse_config
from orchestrator.pipeline import Pipeline, RequestOptions
from orchestrator.pipeline.verify_step import judge_for

from .fakes import CONFIG_YAML, FakeExperts, RankedRouter

MATH = [{"role": "user", "content": "What is 6 * 7?"}]
DISAGREE = {"alpha": "The answer is 42.", "beta": "The answer is 41.", "gamma": "The answer is 40."}


def config(verification: str):
    text = CONFIG_YAML.replace('api_base: "http://127.0.0.1:12/v1"}', 'api_base: "http://127.0.0.1:12/v1", roles: [expert, judge]}')
    return parse_config(text + f"verification: {verification}\n")


@pytest.mark.anyio
async def test_a_verdict_for_the_rival_answer_replaces_the_response():
    experts = FakeExperts({**DISAGREE, "delta": "P(A)=0.05"})
    cfg = config("{enabled: true, both_orders: false, require_low_confidence: false}")
    result = await Pipeline(cfg, RankedRouter(), experts).run(MATH)
    assert result.aggregation.answer == "42"
    assert (result.verification.answer, result.verification.changed) == ("41", True)
    assert result.text == "The answer is 41."
    verify = result.trace.steps("verify")[0]
    assert verify.cost_usd == pytest.approx(result.verification.spend.cost_usd) and verify.expert == "delta"
    assert result.trace.steps("respond")[0].decision["verification"] == "verified"


@pytest.mark.anyio
async def test_verification_is_off_unless_enabled_or_asked_for():
    experts = FakeExperts({**DISAGREE, "delta": "P(A)=0.9"})
    cfg = config("{enabled: false, require_low_confidence: false}")
    off = await Pipeline(cfg, RankedRouter(), experts).run(MATH)
    assert off.verification is None and not off.trace.steps("verify")  # the step is not in this request's graph
    asked = await Pipeline(cfg, RankedRouter(), experts).run(MATH, RequestOptions(verify="auto"))
    assert asked.verification.status == "verified"
    forced = await Pipeline(cfg, RankedRouter(), experts).run(MATH, RequestOptions(verify={"when": "auto", "mode": "mad"}))
    assert forced.verification.mode == "mad"


def test_the_judge_defaults_to_the_first_expert_with_the_judge_role():
    assert judge_for(config("{enabled: true}")) == "delta"


@pytest.mark.anyio
async def test_the_gate_reads_the_routers_probability_of_the_answers_expert():
    """RankedRouter gives alpha (holder of the vote's answer on a three-way split) P(correct) 0.9."""
    experts = FakeExperts({**DISAGREE, "delta": "P(A)=0.9"})
    held = await Pipeline(config("{enabled: true, trigger_confidence: 0.5}"), RankedRouter(), experts).run(MATH)
    assert held.verification.status == "skipped"
    assert held.verification.trigger.to_dict()["held"] == "confidence 0.900 >= trigger_confidence 0.5"
    let_through = await Pipeline(config("{enabled: true, trigger_confidence: 0.95}"), RankedRouter(), experts).run(MATH)
    assert let_through.verification.status == "verified"
    assert let_through.verification.trigger.reasons == ["disagreement", "low_confidence"]


def test_an_escalation_cascades_confidence_wins_over_the_routers():
    from orchestrator.pipeline.state import PipelineState
    from orchestrator.pipeline.verify_step import _confidence
    from orchestrator.trace import TraceEvent
    from orchestrator.verification import Candidate

    state = PipelineState(messages=MATH, trace=[TraceEvent("escalation", {"tier": 1, "confidence": 0.31})])
    assert _confidence(state, [Candidate("alpha", "The answer is 42.", "42")], "42") == 0.31
    assert _confidence(PipelineState(messages=MATH), [Candidate("alpha", "x", "42")], "42") is None
