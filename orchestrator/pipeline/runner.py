"""Running the graph: :class:`Pipeline` for one request at a time (the gateway), and
:func:`run_pipeline` for many prompts at once (offline batch and evaluation).

``Pipeline.run`` returns the finished :class:`PipelineResult`; ``Pipeline.stream`` yields the
routing decision, then the answer's tokens as the graph produces them (:class:`AnswerDelta`),
then the result."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.aggregation import AggregationResult, Aggregator
from orchestrator.config import Config
from orchestrator.errors import ConfigError, InvalidRequest
from orchestrator.escalation.options import EscalationOptions, resolve_dial
from orchestrator.experts.types import Completion
from orchestrator.pipeline.batching import RouteBatcher
from orchestrator.pipeline.context import CallFn, PipelineContext, StreamFn
from orchestrator.pipeline.graph import graph_for
from orchestrator.pipeline.nodes import respond
from orchestrator.pipeline.options import RequestOptions
from orchestrator.pipeline.state import ExpertFailure, PipelineInput
from orchestrator.router.decision import RoutingDecision
from orchestrator.router.protocol import Router
from orchestrator.trace import Trace

__all__ = ["AnswerDelta", "Pipeline", "PipelineResult", "deployment_cascade", "run_pipeline"]


@dataclass(frozen=True)
class AnswerDelta:
    """A piece of the final answer, and who produced it (``expert``, ``aggregator``, or
    ``buffered`` for an answer that could only go out whole)."""

    text: str
    source: str
    expert: str | None = None


@dataclass
class PipelineResult:
    """The answer to one request and everything that went into it."""

    text: str
    decision: RoutingDecision
    completions: list[Completion]
    aggregation: AggregationResult
    failures: list[ExpertFailure] = field(default_factory=list)
    trace: Trace = field(default_factory=lambda: Trace(""))
    verification: Any = None
    """The verify step's ``VerificationResult`` (None when verification was off for the request)."""

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
    """The compiled graph bound to a router and a way to reach experts.

    ``call(expert, messages, params)`` returns a ``Completion`` and ``stream(...)`` an
    ``ExpertStream``: the scheduler's ``submit`` and ``stream``, the only way to an expert.
    """

    def __init__(
        self,
        config: Config,
        router: Router,
        call: CallFn,
        *,
        stream: StreamFn | None = None,
        aggregator: Aggregator | None = None,
        max_fallbacks: int = 2,
        retriever: Any = None,
    ):
        self.config = config
        if retriever is None and config.retrieval.enabled:
            from orchestrator.retrieval.service import Retriever

            retriever = Retriever.from_config(config)
        self.router = router
        self.context = PipelineContext(
            config=config,
            route=RouteBatcher(router.route),
            call=call,
            stream=stream,
            aggregator=aggregator or Aggregator(config.aggregation),
            max_fallbacks=max_fallbacks,
            retriever=retriever,
        )
        self.default_escalation = deployment_cascade(config, getattr(router, "escalation_", None))

    def _resolved(self, options: RequestOptions) -> RequestOptions:
        """A cascade asking for a ``dial`` gets the plan and threshold the router's artifact tuned;
        a request that chooses neither a cascade (``"escalation": null`` is a choice) nor ``k``
        gets experts.yaml's ``escalation.default``."""
        esc = options.escalation
        if esc is None:
            chose = options.k is not None or "escalation" in options.model_fields_set
            if self.default_escalation is None or chose:
                return options
            return options.model_copy(update={"escalation": self.default_escalation})
        if esc.dial is None:
            return options
        return options.model_copy(update={"escalation": resolve_dial(esc, getattr(self.router, "escalation_", None))})

    async def run(
        self,
        messages: list[dict[str, Any]],
        options: RequestOptions | None = None,
        params: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> PipelineResult:
        options = self._resolved(options or RequestOptions())
        state = await graph_for(options, self.context).ainvoke(
            PipelineInput(messages=messages, options=options, params=params or {}), context=self.context
        )
        return _result(state, request_id)

    async def stream(
        self,
        messages: list[dict[str, Any]],
        options: RequestOptions | None = None,
        params: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> AsyncIterator[RoutingDecision | AnswerDelta | PipelineResult]:
        """The routing decision, the answer's deltas as they are produced, then the result.

        Errors raise from the iteration: before the first delta the caller can still answer
        with an HTTP error, after it only with an error event."""
        options = self._resolved(options or RequestOptions())
        request = PipelineInput(messages=messages, options=options, params=params or {}, stream=True)
        state: dict[str, Any] = {}
        announced = False
        async for mode, chunk in graph_for(options, self.context).astream(request, context=self.context, stream_mode=["custom", "values"]):
            if mode == "custom":
                yield AnswerDelta(chunk["delta"], chunk["source"], chunk.get("expert"))
                continue
            state = chunk
            if not announced and state.get("decision") is not None:
                announced = True
                yield state["decision"]
        result = _result(state, request_id)
        if state.get("streamed") is None:
            yield AnswerDelta(result.text, "buffered")
        yield result


def deployment_cascade(config: Config, tuned: dict[str, dict[str, dict[str, Any]]] | None) -> EscalationOptions | None:
    """experts.yaml's ``escalation.default``, its dial resolved once against the settings the
    router's artifact tuned (``escalation_``): a dial it lacks is the deployment's error
    (:class:`ConfigError` at its line), not each request's."""
    opts = config.escalation.default
    if opts is None:
        return None
    try:
        resolved = resolve_dial(opts, tuned)
    except InvalidRequest as exc:
        raise ConfigError(config.problem(("escalation", "default", "dial"), str(exc))) from exc
    resolved._origin = "experts.yaml"
    return resolved


def _result(state: dict[str, Any], request_id: str | None) -> PipelineResult:
    text, responded = respond(state)
    return PipelineResult(
        text=text,
        decision=state["decision"],
        completions=state["completions"],
        aggregation=state["aggregation"],
        failures=state["failures"],
        trace=Trace.of(request_id or uuid.uuid4().hex, [*state["trace"], responded]),
        verification=state.get("verification"),
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
