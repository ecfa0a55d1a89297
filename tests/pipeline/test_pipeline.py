import pytest

from orchestrator.errors import ExpertUnavailable, InvalidRequest
from orchestrator.pipeline import Pipeline, RequestOptions, run_pipeline

from .fakes import FakeExperts, RankedRouter, make_config

MATH = [{"role": "user", "content": "What is 6 * 7?"}]


def pipeline(experts, router=None):
    return Pipeline(make_config(), router or RankedRouter(), experts)


@pytest.mark.anyio
async def test_pipeline_consults_k_experts_and_takes_consensus():
    experts = FakeExperts({"alpha": "The answer is 42.", "beta": "Answer: 42", "gamma": "\\boxed{42}"})
    result = await pipeline(experts).run(MATH)
    assert sorted(result.experts) == ["alpha", "beta", "gamma"]
    assert result.aggregation.mode == "consensus"
    assert result.text == "The answer is 42."
    assert len(experts.calls) == 3
    assert result.prompt_tokens == 30 and result.completion_tokens == 15
    assert result.cost_usd == pytest.approx(6e-5)


@pytest.mark.anyio
async def test_pipeline_trace_records_every_step_in_order():
    experts = FakeExperts({"alpha": "The answer is 42.", "beta": "The answer is 41.", "gamma": "The answer is 42."})
    result = await pipeline(experts).run(MATH, request_id="r-1")
    steps = [e.step for e in result.trace.events]
    # Retrieval and verification are off in this config and not asked for: their steps are not in this request's graph.
    assert steps[:2] == ["classify", "recruit"]
    assert steps.count("expert") == 3
    assert steps[-3:] == ["dispatch", "aggregate", "respond"]
    assert "retrieval" not in steps and "verify" not in steps
    trace = result.trace.to_dict()
    assert trace["request_id"] == "r-1"
    by_step = {e["step"]: e for e in trace["events"]}
    assert by_step["classify"]["decision"]["category"] == "math"
    assert by_step["recruit"]["decision"]["chosen"] == ["alpha", "beta", "gamma"]
    assert by_step["aggregate"]["decision"]["mode"] == "vote"


@pytest.mark.anyio
async def test_pipeline_runs_an_optional_step_the_request_asks_for():
    experts = FakeExperts({"alpha": "The answer is 42.", "beta": "The answer is 41.", "gamma": "The answer is 42."})
    result = await pipeline(experts).run(MATH, RequestOptions(retrieval="always", verify="auto"))
    steps = [e.step for e in result.trace.events]
    assert steps[:3] == ["classify", "recruit", "retrieval"]
    assert steps[-4:] == ["dispatch", "aggregate", "verify", "respond"]
    by_step = {e.step: e.decision for e in result.trace.events}
    assert by_step["retrieval"] == {"retrieval": "requested but disabled in experts.yaml (retrieval.enabled)"}
    assert by_step["verify"]["when"] == "auto"


@pytest.mark.anyio
async def test_pipeline_replaces_failed_expert_with_next_ranked():
    experts = FakeExperts({"alpha": "The answer is 42.", "gamma": "The answer is 42.", "delta": "The answer is 42."}, down={"beta"})
    result = await pipeline(experts).run(MATH)
    assert result.experts == ["alpha", "gamma", "delta"]
    assert result.degraded
    dispatch = result.trace.steps("dispatch")[0].decision
    assert dispatch["failed"] == ["beta"] and dispatch["fallbacks"] == ["delta"] and dispatch["degraded"] is True


@pytest.mark.anyio
async def test_pipeline_answers_with_fewer_experts_when_no_spare_is_left():
    experts = FakeExperts({"alpha": "The answer is 5."}, down={"beta", "gamma", "delta"})
    result = await pipeline(experts).run(MATH)
    assert result.experts == ["alpha"]
    assert result.aggregation.mode == "single"
    assert result.text == "The answer is 5."


@pytest.mark.anyio
async def test_pipeline_raises_expert_unavailable_when_every_expert_fails():
    experts = FakeExperts({}, down={"alpha", "beta", "gamma", "delta"})
    with pytest.raises(ExpertUnavailable, match="every routed expert failed"):
        await pipeline(experts).run(MATH)


@pytest.mark.anyio
async def test_pipeline_synthesises_with_the_routers_aggregator_for_writing():
    experts = FakeExperts({"alpha": "A poem by alpha.", "beta": "A poem by beta.", "gamma": "A poem by gamma."})
    result = await pipeline(experts).run([{"role": "user", "content": "Write a poem"}])
    assert result.aggregation.mode == "synthesis"
    assert [c[0] for c in experts.calls].count("alpha") == 2  # once as expert, once as aggregator
    assert result.prompt_tokens == 40  # three experts plus the synthesis call


@pytest.mark.anyio
async def test_pipeline_falls_back_to_vote_when_aggregator_fails():
    experts = FakeExperts({"alpha": "The answer is 1.", "beta": "The answer is 2.", "gamma": "The answer is 2."})
    router = RankedRouter()
    p = pipeline(experts, router)
    original = experts.__call__

    calls = {"n": 0}

    async def flaky(expert, messages, params):
        calls["n"] += 1
        if calls["n"] > 3:
            raise ExpertUnavailable(expert, "aggregator down")
        return await original(expert, messages, params)

    p.context.call = flaky
    result = await p.run(MATH, RequestOptions(aggregation="synthesis"))
    assert result.aggregation.mode == "vote"
    assert result.aggregation.answer == "2"
    assert any("aggregator alpha failed" in n for n in result.aggregation.notes)


@pytest.mark.anyio
async def test_pipeline_passes_request_options_to_router():
    router = RankedRouter()
    experts = FakeExperts({"alpha": "The answer is 1.", "beta": "The answer is 1."})
    result = await pipeline(experts, router).run(MATH, RequestOptions(k=2, cost_weight=0.5, budget=0.01, experts=["alpha", "beta", "delta"]))
    assert router.calls[0][1] == {"k": 2, "cost_weight": 0.5, "budget": 0.01, "allowed_experts": ["alpha", "beta", "delta"]}
    assert result.experts == ["alpha", "beta"]


@pytest.mark.anyio
async def test_pipeline_category_pin_restricts_to_category_experts():
    router = RankedRouter()
    experts = FakeExperts({"beta": "The answer is 3.", "gamma": "The answer is 3."})
    result = await pipeline(experts, router).run(MATH, RequestOptions(category="math"))
    assert router.calls[0][1]["allowed_experts"] == ["beta", "gamma"]
    assert result.experts == ["beta", "gamma"]


@pytest.mark.anyio
async def test_pipeline_forwards_sampling_params_to_experts():
    experts = FakeExperts({"alpha": "The answer is 1."})
    await pipeline(experts, RankedRouter(k=1)).run(MATH, params={"max_tokens": 7, "temperature": 0.0})
    assert experts.calls[0][2] == {"max_tokens": 7, "temperature": 0.0}


@pytest.mark.anyio
async def test_pipeline_rejects_conversation_without_user_message():
    with pytest.raises(InvalidRequest, match="no user message"):
        await pipeline(FakeExperts({})).run([{"role": "system", "content": "hi"}])


@pytest.mark.anyio
async def test_run_pipeline_batches_routing_and_keeps_prompt_order():
    router = RankedRouter(k=1)
    experts = FakeExperts({"alpha": "The answer is 9."}, delay_s=0.01)
    p = pipeline(experts, router)
    results = await run_pipeline([f"question {i}" for i in range(20)], p, concurrency=20)
    assert [r.trace.request_id for r in results] == [f"batch-{i}" for i in range(20)]
    assert all(r.text == "The answer is 9." for r in results)
    # Concurrent requests share router calls: far fewer calls than prompts.
    assert len(router.calls) < 20
    assert sum(len(c[0]) for c in router.calls) == 20


@pytest.mark.anyio
async def test_run_pipeline_can_return_exceptions_per_prompt():
    experts = FakeExperts({}, down={"alpha", "beta", "gamma", "delta"})
    results = await run_pipeline(["q"], pipeline(experts), return_exceptions=True)
    assert isinstance(results[0], ExpertUnavailable)


@pytest.mark.anyio
async def test_pipeline_reports_client_error_when_every_expert_rejects_the_request():
    from orchestrator.errors import ExpertResponseError

    async def reject(expert, messages, params):
        raise ExpertResponseError(expert, "prompt too long", 400)

    with pytest.raises(ExpertResponseError, match="prompt too long"):
        await pipeline(reject).run(MATH)
