"""Chat completions: the full pipeline (``router/...``) or a direct pass-through to one expert.

Both reach experts only through the scheduler; a pass-through takes its zero-wait lane.
Streaming sends tokens as they are produced: a direct pass-through streams the expert's own
tokens, a routed request answered by one expert streams that expert's, a synthesis streams the
aggregator's. Only vote and consensus (which need every candidate) and verification send the
answer once it exists, and the trace says which happened. The closing usage chunk carries the
experts' own usage reports. Failures before the first byte are ordinary HTTP errors; a failure
after it is sent as vLLM does, an ``{"error": ...}`` event followed by ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response

from orchestrator.errors import ExpertError, InvalidRequest
from orchestrator.escalation.runtime import escalation_headers
from orchestrator.experts import Completion, ExpertStream
from orchestrator.experts.types import StreamPart
from orchestrator.pipeline import AnswerDelta, PipelineResult, RequestOptions
from orchestrator.retrieval.node import retrieval_sources
from orchestrator.router.decision import RoutingDecision
from orchestrator.trace import Trace, expert_event
from services.gateway.catalog import Target
from services.gateway.errors import error_event
from services.gateway.params import default_max_tokens, sampling_params, single_expert_reason
from services.gateway.single_expert import check_category, route_single_expert
from services.gateway.sse import EventStream
from services.gateway.state import GatewayState
from services.gateway.wire import (
    CHARS_PER_TOKEN,
    ChunkWriter,
    GatewayChatRequest,
    chat_response,
    event_headers,
    orchestrator_headers,
    pieces,
    prompt_tokens_estimate,
    request_messages,
    verification_headers,
)

__all__ = ["ChatService"]

log = logging.getLogger("orchestrator.gateway")
_DONE = object()


class ChatService:
    def __init__(self, gateway: GatewayState):
        self.gw = gateway

    async def create(self, body: GatewayChatRequest, *, request_id: str, want_trace: bool) -> Response:
        assert self.gw.catalog is not None
        target = self.gw.catalog.resolve(body.model)
        settings = self.gw.config.gateway
        messages = request_messages(body, settings.max_prompt_tokens)
        routed_headers: dict[str, str] = {}
        if target.kind == "pipeline":
            check_category(body.orchestrator, self.gw.catalog)
            if single_expert_reason(body):
                # Tools / logprobs are one expert's own output: route with k=1, then pass through.
                target, routed_headers = await route_single_expert(self.gw, body, target, messages)
        if target.kind == "expert":
            assert target.expert is not None
            self.gw.metrics.completions.labels(kind="expert").inc()
            prompt_tokens = prompt_tokens_estimate(body)
            cap = default_max_tokens(self.gw.config.expert(target.expert), prompt_tokens, settings)
            params = sampling_params(body, max_tokens=cap, single_expert=True)
            trace_id = request_id if want_trace or (body.orchestrator and body.orchestrator.trace) else None
            if body.stream:
                return await self._direct_stream(body, target.expert, messages, params, trace_id, routed_headers)
            return await self._direct(body, target.expert, messages, params, trace_id, routed_headers)
        self.gw.metrics.completions.labels(kind="pipeline").inc()
        params = sampling_params(body, max_tokens=settings.default_max_tokens, single_expert=False)
        return await self._pipeline(body, target, messages, params, request_id, want_trace)

    # ------------------------------------------------------------------ pipeline

    async def _pipeline(self, body: GatewayChatRequest, target: Target, messages: list[dict], params: dict, request_id: str, want_trace: bool) -> Response:
        options = body.orchestrator or RequestOptions()
        if target.category is not None:
            options = options.model_copy(update={"category": target.category})
        self._check_experts(options)
        pipeline = self.gw.require_pipeline()
        want_trace = want_trace or options.trace
        if body.stream:
            return await self._pipeline_stream(body, options, messages, params, request_id, want_trace)
        result = await pipeline.run(messages, options, params, request_id=request_id)
        self.gw.metrics.observe_trace(result.trace)
        trace = result.trace.to_dict() if want_trace else None
        headers = {**_result_headers(result), **event_headers(result.trace)}
        _log_routed(result)
        response = chat_response(body.model or "router/auto", result.text, result.finish_reason, result.prompt_tokens, result.completion_tokens, trace)
        cited = retrieval_sources(result.trace)
        if cited:
            response.__pydantic_extra__["sources"] = cited  # the numbered passages the answer may cite
            headers["x-orchestrator-sources"] = str(len(cited))
        return Response(response.model_dump_json(), media_type="application/json", headers=headers)

    async def _pipeline_stream(self, body: GatewayChatRequest, options: RequestOptions, messages: list[dict], params: dict, request_id: str, want_trace: bool) -> Response:
        pipeline = self.gw.require_pipeline()
        pump = _StreamPump(pipeline.stream(messages, options, params, request_id=request_id))
        decision: RoutingDecision | None = None
        first = await pump.pull()  # routing and any failure before the first token: a proper status
        while isinstance(first, RoutingDecision):
            decision = first
            first = await pump.pull()
        assert decision is not None and isinstance(first, AnswerDelta)
        writer = ChunkWriter(body.model or "router/auto")

        async def events() -> AsyncIterator[str]:
            result: PipelineResult | None = None
            try:
                yield writer.delta("", role="assistant")
                for item in [first]:
                    for piece in _delta_pieces(item):
                        yield writer.delta(piece)
                async for item in pump.rest():
                    if isinstance(item, AnswerDelta):
                        for piece in _delta_pieces(item):
                            yield writer.delta(piece)
                    elif isinstance(item, PipelineResult):
                        result = item
            except Exception as exc:  # noqa: BLE001 - mid-stream: the status line is gone, only an error event is left
                self.gw.metrics.errors.labels(type=type(exc).__name__).inc()
                log.warning("routed stream failed after its first token: %s", exc)
                yield error_event(exc)
                yield "data: [DONE]\n\n"
                return
            assert result is not None
            self.gw.metrics.observe_trace(result.trace)
            _log_routed(result)
            extra: dict[str, Any] = {"trace": result.trace.to_dict()} if want_trace else {}
            cited = retrieval_sources(result.trace)
            if cited:
                extra["sources"] = cited  # known only once retrieval ran: in the closing chunk
            yield writer.delta("", finish_reason=result.finish_reason, **extra)
            if body.wants_usage_chunk:
                yield writer.usage(result.prompt_tokens, result.completion_tokens)
            yield "data: [DONE]\n\n"

        headers = orchestrator_headers(decision.category, list(decision.chosen), decision.aggregator, None)
        return EventStream(events(), headers=headers, release=pump.aclose)

    def _check_experts(self, options: RequestOptions) -> None:
        if options.experts:
            unknown = sorted(set(options.experts) - set(self.gw.config.expert_names))
            if unknown:
                raise InvalidRequest(f"unknown experts: {', '.join(unknown)}", param="orchestrator.experts")

    # ------------------------------------------------------------------ direct

    async def _direct(
        self, body: GatewayChatRequest, expert: str, messages: list[dict], params: dict, trace_id: str | None, routed: dict[str, str]
    ) -> Response:
        try:
            completion = await self.gw.require_scheduler().submit(expert, messages, params, urgent=True)
        except ExpertError:
            self.gw.metrics.observe_direct(expert, 0, 0, 0.0, ok=False)
            raise
        self.gw.metrics.observe_direct(expert, completion.prompt_tokens, completion.completion_tokens, completion.cost_usd)
        call = _direct_trace(trace_id or "-", completion, self._max_cost(expert, body, params))
        headers = {**orchestrator_headers("direct", [expert], None, completion.cost_usd), **event_headers(call), **routed}
        trace = call.to_dict() if trace_id else None
        response = chat_response(
            body.model or expert, completion.text, completion.finish_reason, completion.prompt_tokens, completion.completion_tokens, trace,
            tool_calls=completion.tool_calls, logprobs=completion.logprobs,
        )
        return Response(response.model_dump_json(), media_type="application/json", headers=headers)

    async def _direct_stream(
        self, body: GatewayChatRequest, expert: str, messages: list[dict], params: dict, trace_id: str | None, routed: dict[str, str]
    ) -> Response:
        stream = self.gw.require_scheduler().stream(expert, messages, params, parts=True)
        pump = _StreamPump(stream)
        try:
            first = await pump.pull()  # an expert that is down fails here, with a proper status
        except ExpertError:
            self.gw.metrics.observe_direct(expert, 0, 0, 0.0, ok=False)
            raise
        writer = ChunkWriter(body.model or expert)

        async def events() -> AsyncIterator[str]:
            pieces = 0
            try:
                yield writer.delta("", role="assistant")
                if first is not None:
                    pieces += 1
                    yield _part_chunk(writer, first)
                async for part in pump.rest():
                    pieces += 1
                    yield _part_chunk(writer, part)
            except ExpertError as exc:
                self.gw.metrics.observe_direct(expert, 0, 0, 0.0, ok=False)
                self.gw.metrics.errors.labels(type=type(exc).__name__).inc()
                yield error_event(exc)
                yield "data: [DONE]\n\n"
                return
            completion = self._streamed_completion(stream, messages, pieces)
            self.gw.metrics.observe_direct(expert, completion.prompt_tokens, completion.completion_tokens, completion.cost_usd)
            # The cost is known only now, after the headers went out: it rides in the trace.
            extra = {"trace": _direct_trace(trace_id, completion, self._max_cost(expert, body, params)).to_dict()} if trace_id else {}
            yield writer.delta("", finish_reason=completion.finish_reason, **extra)
            if body.wants_usage_chunk:
                yield writer.usage(completion.prompt_tokens, completion.completion_tokens)
            yield "data: [DONE]\n\n"

        headers = {**orchestrator_headers("direct", [expert], None, None), **routed}
        return EventStream(events(), headers=headers, release=pump.aclose)

    def _max_cost(self, expert: str, body: GatewayChatRequest, params: dict) -> float | None:
        """The call's worst-case cost: the estimated prompt plus every token ``max_tokens`` allows."""
        max_tokens = params.get("max_tokens")
        if max_tokens is None:
            return None
        return self.gw.config.expert(expert).price.cost(prompt_tokens_estimate(body), max_tokens)

    def _streamed_completion(self, stream: ExpertStream, messages: list[dict], pieces: int) -> Completion:
        """The finished stream's usage and cost as the expert reported them (vLLM's usage chunk)."""
        completion = stream.completion
        if stream.usage is None:
            # Fallback only: this upstream sent no usage chunk (it ignores stream_options, as
            # some OpenAI-compatible servers do), so estimate: prompt chars / 4, a token a delta.
            prompt_chars = sum(len(str(m.get("content") or "")) for m in messages)
            completion.prompt_tokens = -(-prompt_chars // CHARS_PER_TOKEN)
            completion.completion_tokens = pieces
            completion.cost_usd = self.gw.config.expert(stream.expert).price.cost(completion.prompt_tokens, pieces)
        return completion


def _result_headers(result: PipelineResult) -> dict[str, str]:
    agg = result.aggregation
    headers = orchestrator_headers(result.decision.category, result.experts, agg.aggregator if agg.calls else None, result.cost_usd)
    headers["x-orchestrator-aggregation"] = agg.mode
    headers.update(verification_headers(result.verification))
    headers.update(escalation_headers(result.trace))
    return headers


def _log_routed(result: PipelineResult) -> None:
    log.info(
        "routed category=%s experts=%s aggregation=%s cost_usd=%.8f degraded=%s",
        result.decision.category, ",".join(result.experts), result.aggregation.mode, result.cost_usd, result.degraded,
    )


def _delta_pieces(delta: AnswerDelta) -> list[str]:
    """A buffered answer goes out in word-aligned pieces, as a token stream would; live deltas as they are."""
    if delta.source == "buffered":
        return list(pieces(delta.text))
    return [delta.text] if delta.text else []


def _part_chunk(writer: ChunkWriter, part: StreamPart) -> str:
    """An expert's stream part as our chunk: content, tool-call deltas and logprobs as it sent them."""
    return writer.delta(part.content if part.content or not part.tool_calls else None, tool_calls=part.tool_calls, logprobs=part.logprobs)


def _direct_trace(request_id: str, completion: Completion, max_cost_usd: float | None = None) -> Trace:
    """A one-event trace for a pass-through call: the pipeline's ``expert`` event."""
    event = expert_event(completion, time.time() - completion.latency_s, completion.latency_s)
    if max_cost_usd is not None:
        event.decision["max_cost_usd"] = max_cost_usd  # estimated before the call, from max_tokens (capped by the context)
    return Trace.of(request_id, [event])


class _StreamPump:
    """Drives a stream (an expert's deltas, or the pipeline's events) in its own task and hands
    items over a queue.

    The handler pulls items until the first token (so failures before any output become HTTP
    errors), while the response body is sent from another task; a queue keeps the upstream
    stream in one task for its whole life.
    """

    def __init__(self, stream: AsyncIterator[Any]):
        self._stream = stream
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._finished = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            async for delta in self._stream:
                await self._queue.put(delta)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            await self._queue.put(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            await self._queue.put(_DONE)

    async def _next(self) -> Any:
        item = await self._queue.get()
        if item is _DONE or isinstance(item, BaseException):
            self._finished = True
        if isinstance(item, BaseException):
            raise item
        return item

    async def pull(self) -> Any:
        """The next item, or None at the end; a failure closes the pump and raises."""
        try:
            item = await self._next()
        except BaseException:
            await self.aclose()
            raise
        return None if item is _DONE else item

    async def rest(self) -> AsyncIterator[Any]:
        if self._finished:
            return
        while (item := await self._next()) is not _DONE:
            yield item

    async def aclose(self) -> None:
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
