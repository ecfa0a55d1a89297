"""Escalation inside the pipeline: each signal, threshold edges, a failing expert, a budget."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from orchestrator.escalation.options import EscalationOptions
from orchestrator.escalation.runtime import HEADER, escalation_headers, mean_logprob
from orchestrator.pipeline import Pipeline, RequestOptions
from orchestrator.router.decision import RankedExpert, RoutingDecision
from pipeline.fakes import FakeExperts, make_config

MATH = [{"role": "user", "content": "What is 6 * 7?"}]
# alpha: cheap and unsure; beta: mid; gamma: dear and strong (predicted P(correct), USD per call).
PROFILE = {"alpha": (0.6, 1e-6), "beta": (0.7, 1e-5), "gamma": (0.9, 1e-3), "delta": (0.3, 1e-6)}


class PricedRouter:
    def route(self, prompts, *, k=None, cost_weight=None, budget=None, allowed_experts=None, mode=None):
        ranked = sorted((RankedExpert(n, q, q, c) for n, (q, c) in PROFILE.items()), key=lambda e: -e.score)
        return [RoutingDecision("math", {"math": 1.0}, [], ranked, 1, [ranked[0].name], None, None) for _ in prompts]


class LogprobExperts(FakeExperts):
    """Completions carry token log-probabilities (as vLLM returns them with ``logprobs: true``)."""

    def __init__(self, answers, logprobs, **kw):
        super().__init__(answers, **kw)
        self.logprobs = logprobs

    async def __call__(self, expert, messages, params):
        c = await super().__call__(expert, messages, params)
        if expert in self.logprobs:
            c.logprobs = {"content": [{"token": "x", "logprob": v} for v in self.logprobs[expert]]}
        return c


async def run(experts, budget=None, **esc):
    options = RequestOptions(escalation=EscalationOptions(**esc), budget=budget)
    return await Pipeline(make_config(), PricedRouter(), experts).run(MATH, options)


def steps(result, name):
    return [e.decision for e in result.trace.events if e.step == name]


@pytest.mark.anyio
async def test_router_signal_below_threshold_escalates_to_the_strongest_expert():
    experts = FakeExperts({"alpha": "The answer is 41.", "beta": "The answer is 40.", "gamma": "The answer is 42."})
    result = await run(experts, signal="router", threshold=0.7, max_tiers=2, probe_cost_weight=1.0)
    assert [c[0] for c in experts.calls] == ["alpha", "gamma"]
    assert result.text == "The answer is 42."
    tiers = steps(result, "escalation")
    assert [t["accepted"] for t in tiers] == [False, True] and tiers[0]["confidence"] == pytest.approx(0.6)
    summary = steps(result, "escalation_summary")[0]
    assert summary["tiers_used"] == 2 and summary["escalations"] == 1 and summary["stopped"] == "accepted"
    assert escalation_headers(result.trace)[HEADER].startswith("tiers=2; stopped=accepted; signal=router")


@pytest.mark.anyio
@pytest.mark.parametrize(("threshold", "calls"), [(0.6, ["alpha"]), (0.6000001, ["alpha", "gamma"]), (0.0, ["alpha"])])
async def test_a_signal_equal_to_the_threshold_is_accepted(threshold, calls):
    experts = FakeExperts({"alpha": "The answer is 41.", "gamma": "The answer is 42."})
    await run(experts, signal="router", threshold=threshold, max_tiers=2, probe_cost_weight=1.0)
    assert [c[0] for c in experts.calls] == calls


@pytest.mark.anyio
@pytest.mark.parametrize(("beta_says", "calls"), [("The answer is 41.", ["alpha", "delta"]), ("The answer is 7.", ["alpha", "delta", "gamma"])])
async def test_agreement_of_two_cheap_experts_accepts_and_disagreement_escalates(beta_says, calls):
    experts = FakeExperts({"alpha": "The answer is 41.", "delta": beta_says, "gamma": "The answer is 42."})
    result = await run(experts, signal="agreement", threshold=1.0, probes=2, max_tiers=2, probe_cost_weight=5.0)
    assert sorted(c[0] for c in experts.calls) == sorted(calls)
    assert steps(result, "escalation")[0]["accepted"] is (len(calls) == 2)


@pytest.mark.anyio
@pytest.mark.parametrize(("p", "escalated"), [(0.95, False), (0.3, True)])
async def test_logprob_signal_reads_the_experts_token_logprobs(p, escalated):
    experts = LogprobExperts({"alpha": "The answer is 41.", "gamma": "The answer is 42."}, {"alpha": [math.log(p)] * 4})
    result = await run(experts, signal="logprob", threshold=0.8, max_tiers=2, probe_cost_weight=1.0)
    assert steps(result, "escalation")[0]["confidence"] == pytest.approx(p)
    assert (len(experts.calls) == 2) is escalated
    assert all(params.get("logprobs") is True for _, _, params in experts.calls), "the cascade asks the experts for them"


@pytest.mark.anyio
async def test_logprob_signal_without_logprobs_falls_back_to_the_router_and_says_so():
    experts = FakeExperts({"alpha": "The answer is 41.", "gamma": "The answer is 42."})
    result = await run(experts, signal="logprob", threshold=0.5, max_tiers=2, probe_cost_weight=1.0)
    first = steps(result, "escalation")[0]
    assert first["accepted"] and "no log-probabilities" in first["note"]


@pytest.mark.anyio
async def test_an_expert_failing_mid_cascade_moves_to_the_next_tier_and_is_flagged():
    experts = FakeExperts({"gamma": "The answer is 42."}, down={"alpha"})
    result = await run(experts, signal="router", threshold=0.0, max_tiers=3, probe_cost_weight=1.0)
    assert result.text == "The answer is 42." and result.degraded
    first = steps(result, "escalation")[0]
    assert first["failed"] == ["alpha"] and first["stopped"] == "failed"
    assert steps(result, "escalation_summary")[0]["failed"] == ["alpha"]


@pytest.mark.anyio
async def test_a_budget_that_forbids_escalation_returns_the_first_tier_answer_flagged():
    experts = FakeExperts({"alpha": "The answer is 41.", "gamma": "The answer is 42."})
    result = await run(experts, budget=1e-4, signal="router", threshold=0.99, max_tiers=3, probe_cost_weight=1.0)
    assert [c[0] for c in experts.calls] == ["alpha"]
    assert result.text == "The answer is 41."
    summary = steps(result, "escalation_summary")[0]
    assert summary["stopped"] == "budget" and summary["degraded"]


def test_escalation_counters_reach_prometheus():
    from orchestrator.trace import Trace, TraceEvent
    from services.gateway.metrics import GatewayMetrics

    metrics = GatewayMetrics()
    trace = Trace("r-1", [TraceEvent("escalation_summary", {"signal": "router", "stopped": "accepted", "escalations": 2})])
    metrics.observe_trace(trace)
    text = metrics.render().decode()
    assert 'orchestrator_escalations_total{signal="router",stopped="accepted"} 1.0' in text
    assert 'orchestrator_escalation_tiers_total{signal="router"} 2.0' in text


def test_mean_logprob_reads_lists_and_openai_shapes():
    class C:
        logprobs = [-0.1, -0.3]

    assert mean_logprob(C()) == pytest.approx(-0.2)
    assert mean_logprob(object()) is None


def test_unknown_escalation_fields_are_rejected():
    with pytest.raises(ValueError, match="extra"):
        RequestOptions.model_validate({"escalation": {"signal": "router", "bogus": 1}})


@pytest.mark.anyio
@pytest.mark.parametrize(("threshold", "calls", "text"), [(0.85, ["alpha", "delta"], "The answer is 41."),
                                                          (0.86, ["alpha", "delta", "gamma"], "The answer is 42.")])
async def test_posterior_signal_and_the_strongest_expert_answering_after_an_escalation(threshold, calls, text):
    # alpha (P 0.6) and delta (P 0.3) agree: posterior 13.5 * 3.857 / (13.5 * 3.857 + 9) = 0.853.
    experts = FakeExperts({"alpha": "The answer is 41.", "delta": "The answer is 41.", "gamma": "The answer is 42."})
    result = await run(experts, signal="posterior", threshold=threshold, probes=2, max_tiers=2, probe_cost_weight=5.0, merge="strongest")
    assert sorted(c[0] for c in experts.calls) == sorted(calls)
    assert steps(result, "escalation")[0]["confidence"] == pytest.approx(0.853, abs=1e-3)
    # Escalated: gamma answers even though two cheaper experts agree on another answer.
    assert result.text == text


class TunedRouter(PricedRouter):
    """A router whose artifact carries the settings `orchestrator train` tuned (``escalation_``)."""

    escalation_ = {"router": {
        "match": {"threshold": 0.0, "probes": 1, "max_tiers": 2, "probe_cost_weight": 1.0, "merge": "vote"},
        "beat": {"threshold": 0.65, "probes": 1, "max_tiers": 2, "probe_cost_weight": 1.0, "merge": "strongest"},
    }}


@pytest.mark.anyio
@pytest.mark.parametrize(("dial", "calls"), [("match", ["alpha"]), ("beat", ["alpha", "gamma"])])
async def test_a_dial_runs_the_setting_the_router_was_tuned_with_and_the_trace_says_so(dial, calls):
    experts = FakeExperts({"alpha": "The answer is 41.", "gamma": "The answer is 42."})
    options = RequestOptions(escalation=EscalationOptions(signal="router", dial=dial))
    result = await Pipeline(make_config(), TunedRouter(), experts).run(MATH, options)
    assert [c[0] for c in experts.calls] == calls  # alpha's 0.6 clears match's 0 but not beat's 0.65
    summary = steps(result, "escalation_summary")[0]
    tuned = TunedRouter.escalation_["router"][dial]
    assert summary["dial"] == dial and summary["threshold"] == tuned["threshold"] and summary["plan"]["merge"] == tuned["merge"]


def test_a_dial_sets_the_plan_so_the_request_may_not_set_it_too():
    with pytest.raises(ValueError, match="drop threshold or drop dial"):
        EscalationOptions(signal="router", dial="beat", threshold=0.5)


@pytest.mark.anyio
@pytest.mark.parametrize(("router", "signal", "message"), [
    (PricedRouter(), "router", "carries no tuned escalation settings"),
    (TunedRouter(), "posterior", "no tuned 'beat' setting for signal 'posterior' \\(tuned signals: router\\)"),
])
async def test_a_dial_the_router_cannot_honour_is_a_client_error_naming_the_field(router, signal, message):
    from orchestrator.errors import InvalidRequest

    options = RequestOptions(escalation=EscalationOptions(signal=signal, dial="beat"))
    with pytest.raises(InvalidRequest, match=message) as err:
        await Pipeline(make_config(), router, FakeExperts({})).run(MATH, options)
    assert err.value.param == "orchestrator.escalation.dial"


def _learned_model(tiers: int, unit: str | None = "chars", logprobs: bool = False):
    """A fitted-looking logistic model per tier: every feature weighs in, differently per tier."""
    from orchestrator.escalation.signals import FEATURES, LearnedConfidence, TierModels

    f = len(FEATURES)
    coefs = [[0.3, -0.2, 0.5, -0.4, 0.05, 0.1, -0.15, 0.25, 0.35, 0.2], [0.1, 0.4, -0.3, 0.2, -0.02, 0.3, 0.05, -0.2, 0.6, -0.1],
             [0.2, 0.2, 0.2, 0.2, 0.01, 0.2, 0.2, 0.2, 0.2, -1.0]]
    models = []
    for t in range(tiers):
        m = LearnedConfidence()
        m.mean_, m.std_, m.coef_ = np.zeros(f), np.ones(f), np.array(coefs[t][: f + 1])
        models.append(m)
    return TierModels("logistic", tuple(models), unit, logprobs)


class LearnedRouter(PricedRouter):
    escalation_ = {"learned": {
        "match": {"threshold": 0.0, "probes": 2, "max_tiers": 3, "probe_cost_weight": 5.0, "merge": "vote", "model": _learned_model(3)},
        "beat": {"threshold": 0.999, "probes": 2, "max_tiers": 3, "probe_cost_weight": 5.0, "merge": "vote", "model": _learned_model(3)},
    }}


@pytest.mark.anyio
@pytest.mark.parametrize("dial", ["match", "beat"])
async def test_a_learned_dial_scores_live_answers_exactly_as_the_replay_scores_recorded_ones(dial):
    from orchestrator.aggregation.extraction import extract_answer
    from orchestrator.escalation.cascade import CascadePlan
    from orchestrator.escalation.replay import EscalationInputs, trace_plan
    from orchestrator.router.selection import CostScale

    texts = {"alpha": "The answer is 41.", "delta": "I think the answer is 7.", "beta": "The answer is 41, surely.", "gamma": "The answer is 42."}
    experts = FakeExperts(texts)
    result = await Pipeline(make_config(), LearnedRouter(), experts).run(MATH, RequestOptions(escalation=EscalationOptions(signal="learned", dial=dial)))
    live = [t["confidence"] for t in steps(result, "escalation")]
    # The same request as a recorded row: experts in the router's rank order, lengths in characters.
    names = sorted(PROFILE, key=lambda n: -PROFILE[n][0])
    est = np.array([PROFILE[n][1] for n in names])
    row = EscalationInputs(scores=np.zeros((1, 4)), cost=est[None], answers=[[extract_answer(texts[n]) for n in names]],
                           quality=np.array([[PROFILE[n][0] for n in names]]), cost_norm=CostScale.fit(est)(est)[None],
                           lengths=np.array([[len(texts[n]) for n in names]], dtype=float), length_unit="chars")
    setting = LearnedRouter.escalation_["learned"][dial]
    replayed = trace_plan(row, CascadePlan(probes=2, probe_cost_weight=5.0, max_tiers=3, merge="vote"), top=0).features[0]
    model = setting["model"]
    assert live == pytest.approx([model.confidence(t, replayed[t]) for t in range(len(live))], abs=1e-4)
    assert len(live) == (1 if dial == "match" else 3)  # match's threshold 0 accepts tier 1; beat's 0.999 walks every tier
    assert steps(result, "escalation_summary")[0]["dial"] == dial


def test_the_learned_signal_runs_only_through_a_dial():
    with pytest.raises(ValueError, match="signal 'learned' needs dial 'match' or 'beat'"):
        EscalationOptions(signal="learned", threshold=0.5)


@pytest.mark.anyio
async def test_a_learned_model_from_another_feature_set_is_a_client_error_that_says_retrain():
    from orchestrator.errors import InvalidRequest

    class Stale(PricedRouter):
        escalation_ = {"learned": {"beat": {**LearnedRouter.escalation_["learned"]["beat"],
                                            "model": replace(_learned_model(3), features=("agree", "share"))}}}

    with pytest.raises(InvalidRequest, match="retrain") as err:
        await Pipeline(make_config(), Stale(), FakeExperts({})).run(MATH, RequestOptions(escalation=EscalationOptions(signal="learned", dial="beat")))
    assert err.value.param == "orchestrator.escalation.dial"


@pytest.mark.anyio
@pytest.mark.parametrize(("delta_says", "calls"), [("The answer is 41.", ["alpha", "delta"]), ("The answer is 7.", ["alpha", "delta", "gamma"])])
async def test_a_boosted_learned_dial_accepts_agreeing_cheap_answers_and_escalates_the_rest(delta_says, calls):
    from orchestrator.escalation.signals import FEATURES, BoostedConfidence, TierModels

    # Trees fitted on rows where two agreeing answers are right and a split pair is wrong.
    rng = np.random.default_rng(0)
    X = rng.random((400, len(FEATURES)))
    X[:, FEATURES.index("agree")] = rng.integers(0, 2, 400) * 0.5 + 0.5  # 0.5 (split) or 1.0 (agree)
    trees = BoostedConfidence().fit(X, X[:, FEATURES.index("agree")] == 1.0)
    setting = {"threshold": 0.5, "probes": 2, "max_tiers": 2, "probe_cost_weight": 5.0, "merge": "vote", "learner": "boosted",
               "model": TierModels("boosted", (trees, trees), "chars", logprobs=False)}

    class Boosted(PricedRouter):
        escalation_ = {"learned": {"beat": setting}}

    experts = FakeExperts({"alpha": "The answer is 41.", "delta": delta_says, "gamma": "The answer is 42."})
    await Pipeline(make_config(), Boosted(), experts).run(MATH, RequestOptions(escalation=EscalationOptions(signal="learned", dial="beat")))
    assert sorted(c[0] for c in experts.calls) == sorted(calls)
