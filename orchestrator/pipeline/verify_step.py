"""The pipeline's ``verify`` step: hands the experts' answers to :class:`~orchestrator.verification.Verifier`
through the same expert call the dispatch step uses (``PipelineContext.call``)."""

from __future__ import annotations

from typing import Any

from orchestrator.aggregation import extract_answer
from orchestrator.config import Config
from orchestrator.pipeline.context import PipelineContext
from orchestrator.pipeline.nodes import last_user_text
from orchestrator.pipeline.state import PipelineState
from orchestrator.trace import timed_event
from orchestrator.verification import Aggregated, Candidate, Verifier

__all__ = ["judge_for", "run_verification"]


def judge_for(config: Config) -> str | None:
    """``verification.judge``, else the first expert with the ``judge`` role."""
    if config.verification.judge is not None:
        return config.verification.judge
    judges = config.with_role("judge")
    return judges[0].name if judges else None


def _confidence(state: PipelineState, candidates: list[Candidate], answer: str | None) -> float | None:
    """The confidence signal of the trigger's gate: the escalation cascade's own (its last
    decision), else the router's predicted P(correct) of the best-ranked expert holding the
    pipeline's answer (the ``router`` signal of orchestrator.escalation); None when neither exists."""
    for event in reversed(state.trace):
        if event.step == "escalation" and isinstance(event.decision.get("confidence"), (int, float)):
            return float(event.decision["confidence"])
    if state.decision is None or answer is None:
        return None
    quality = {e.name: e.predicted_quality for e in state.decision.experts}
    holder = next((c.expert for c in candidates if c.answer == answer and c.expert in quality), None)
    return None if holder is None else float(quality[holder])


async def run_verification(state: PipelineState, ctx: PipelineContext) -> dict[str, Any]:
    config = ctx.config
    when, mode = state.options.verify_plan(config.verification.enabled)
    agg = state.aggregation
    assert agg is not None  # the graph aggregates before it verifies
    verifier = Verifier(config.verification, ctx.call, judge_for(config), {e.name: e.price for e in config.experts})
    candidates = [Candidate(c.expert, c.text, extract_answer(c.text)) for c in state.completions]
    aggregated = Aggregated(agg.answer, agg.text, agg.aggregator, sum(e.cost_usd for e in state.trace))
    with timed_event("verify", when=when) as event:
        result = await verifier.verify(
            last_user_text(state.messages),
            candidates,
            aggregated,
            when=when,  # type: ignore[arg-type]
            mode=mode,
            category=state.options.category or state.decision.category,
            confidence=_confidence(state, candidates, agg.answer),
            passages=getattr(state, "passages", None) or (),
            params={k: v for k, v in state.params.items() if k in ("temperature", "top_p", "seed")},
        )
    event.decision.update(result.to_dict())
    if result.ran:
        event.expert = verifier.judge if result.mode != "mad" else None
        event.prompt_tokens = result.spend.prompt_tokens
        event.completion_tokens = result.spend.completion_tokens
        event.cost_usd = result.spend.cost_usd
    return {"verification": result, "trace": [event]}
