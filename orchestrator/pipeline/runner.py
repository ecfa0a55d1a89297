"""Running the graph: :class:`Pipeline` for one request at a time (the gateway), and
:func:`run_pipeline` for many prompts at once (offline batch and evaluation)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.aggregation import AggregationResult, Aggregator
from orchestrator.config import Config
from orchestrator.pipeline.batching import RouteBatcher
from orchestrator.pipeline.context import CallFn, PipelineContext
from orchestrator.pipeline.graph import compiled_graph
from orchestrator.pipeline.options import RequestOptions
from orchestrator.pipeline.state import ExpertFailure, PipelineInput
from orchestrator.trace import Trace

__all__ = ["Pipeline", "PipelineResult", "run_pipeline"]


@dataclass
class PipelineResult:
    """The answer to one request and everything that went into it."""

    text: str
    decision: Any
    completions: list[Any]
    aggregation: AggregationResult
    failures: list[ExpertFailure] = field(default_factory=list)
    trace: Trace = field(default_factory=lambda: Trace(""))

    @property
    def experts(self) -> list[str]:
        return [c.expert for c in self.completions]

    @property
    def prompt_tokens(self) -> int:
        return self.trace.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return self.trace.completion_tokens

    @property
    def cost_usd(self) -> float:
        return self.trace.cost_usd

    @property
    def degraded(self) -> bool:
        return bool(self.failures)

    @property
    def finish_reason(self) -> str:
        calls = self.aggregation.calls or [c for c in self.completions if c.text == self.text] or self.completions
        return calls[-1].finish_reason or "stop"


class Pipeline:
    """The compiled graph bound to a router and a way to call experts.

    ``router`` needs ``route(prompts, *, k, cost_weight, budget, allowed_experts)``;
    ``call(expert, messages, params)`` returns a ``Completion`` (``Scheduler.submit`` online,
    ``ExpertClient.complete`` offline).
    """

    def __init__(self, config: Config, router: Any, call: CallFn, *, aggregator: Aggregator | None = None, max_fallbacks: int = 2, retriever: Any = None):
        self.config = config
        if retriever is None and config.retrieval.enabled:
            from orchestrator.retrieval.service import Retriever

            retriever = Retriever.from_config(config)
        self.router = router
        self.context = PipelineContext(
            config=config,
            route=RouteBatcher(router.route),
            call=call,
            aggregator=aggregator or Aggregator(config.aggregation),
            max_fallbacks=max_fallbacks,
            retriever=retriever,
        )
        self._graph = compiled_graph()

    async def run(
        self,
        messages: list[dict[str, Any]],
        options: RequestOptions | None = None,
        params: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> PipelineResult:
        state = await self._graph.ainvoke(
            PipelineInput(messages=messages, options=options or RequestOptions(), params=params or {}),
            context=self.context,
        )
        return PipelineResult(
            text=state["answer"],
            decision=state["decision"],
            completions=state["completions"],
            aggregation=state["aggregation"],
            failures=state["failures"],
            trace=Trace.of(request_id or uuid.uuid4().hex, state["trace"]),
        )


async def run_pipeline(
    prompts: Sequence[str | list[dict[str, Any]]],
    pipeline: Pipeline,
    *,
    options: RequestOptions | None = None,
    params: dict[str, Any] | None = None,
    concurrency: int = 16,
    return_exceptions: bool = False,
) -> list[PipelineResult | BaseException]:
    """Run many prompts (strings or full conversations) through the same graph, ``concurrency`` at a time.

    With ``return_exceptions`` a failed prompt yields its exception instead of failing the batch.
    """
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int, prompt: str | list[dict[str, Any]]) -> PipelineResult:
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        async with gate:
            return await pipeline.run(messages, options, params, request_id=f"batch-{i}")

    return await asyncio.gather(*(one(i, p) for i, p in enumerate(prompts)), return_exceptions=return_exceptions)
