"""Chat completions: the full pipeline (``router/...``) or a direct pass-through to one expert.

Streaming with the pipeline runs the experts (and the aggregator) first, then streams the
final answer in OpenAI's chunk format: an ensemble answer does not exist until the experts have
all answered. A direct pass-through streams the expert's own tokens as they come, and its
closing usage chunk carries the expert's own usage report. Failures before the first byte are
ordinary HTTP errors; a failure after it is sent as vLLM does, an ``{"error": ...}`` event
followed by ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from orchestrator.errors import ExpertError, InvalidRequest
from orchestrator.experts import Completion, ExpertStream
from orchestrator.pipeline import RequestOptions
from orchestrator.retrieval.node import retrieval_sources
from orchestrator.trace import Trace, TraceEvent
from services.gateway.catalog import Target
from services.gateway.errors import error_event
from services.gateway.state import GatewayState
from services.gateway.wire import (
    CHARS_PER_TOKEN,
    ChunkWriter,
    GatewayChatRequest,
    chat_response,
    orchestrator_headers,
    request_messages,
    sampling_params,
    text_stream,
)

__all__ = ["ChatService"]

log = logging.getLogger("orchestrator.gateway")
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_DONE = object()


class ChatService:
    def __init__(self, gateway: GatewayState):
        self.gw = gateway

    async def create(self, body: GatewayChatRequest, *, request_id: str, want_trace: bool) -> Response:
        assert self.gw.catalog is not None
        target = self.gw.catalog.resolve(body.model)
        settings = self.gw.config.gateway
        messages = request_messages(body, settings.max_prompt_tokens)
        params = sampling_params(body, settings.default_max_tokens)
        if target.kind == "expert":
            assert target.expert is not None
            self.gw.metrics.completions.labels(kind="expert").inc()
            trace_id = request_id if want_trace or (body.orchestrator and body.orchestrator.trace) else None
            if body.stream:
                return await self._direct_stream(body, target.expert, messages, params, trace_id)
            return await self._direct(body, target.expert, messages, params, trace_id)
        self.gw.metrics.completions.labels(kind="pipeline").inc()
        return await self._pipeline(body, target, messages, params, request_id, want_trace)

    # ------------------------------------------------------------------ pipeline

    async def _pipeline(self, body: GatewayChatRequest, target: Target, messages: list[dict], params: dict, request_id: str, want_trace: bool) -> Response:
        options = body.orchestrator or RequestOptions()
        if target.category is not None:
            options = options.model_copy(update={"category": target.category})
        self._check_experts(options)
        pipeline = self.gw.require_pipeline()
        result = await pipeline.run(messages, options, params, request_id=request_id)
        self.gw.metrics.observe_trace(result.trace)
        trace = result.trace.to_dict() if (want_trace or options.trace) else None
        agg = result.aggregation
        headers = orchestrator_headers(result.decision.category, result.experts, agg.aggregator if agg.calls else None, result.cost_usd)
        headers["x-orchestrator-aggregation"] = agg.mode
        log.info(
            "routed category=%s experts=%s aggregation=%s cost_usd=%.8f degraded=%s",
            result.decision.category, ",".join(result.experts), agg.mode, result.cost_usd, result.degraded,
        )
        model = body.model or "router/auto"
        if body.stream:
            stream = text_stream(
                model, result.text, result.finish_reason, result.prompt_tokens, result.completion_tokens,
                include_usage=body.wants_usage_chunk, trace=trace,
            )
            return StreamingResponse(stream, media_type="text/event-stream", headers={**headers, **_SSE_HEADERS})
        response = chat_response(model, result.text, result.finish_reason, result.prompt_tokens, result.completion_tokens, trace)
        cited = retrieval_sources(result.trace)
        if cited:
            response.__pydantic_extra__["sources"] = cited  # the numbered passages the answer may cite
            headers["x-orchestrator-sources"] = str(len(cited))
        return Response(response.model_dump_json(), media_type="application/json", headers=headers)

    def _check_experts(self, options: RequestOptions) -> None:
        if options.experts:
            unknown = sorted(set(options.experts) - set(self.gw.config.expert_names))
            if unknown:
                raise InvalidRequest(f"unknown experts: {', '.join(unknown)}", param="orchestrator.experts")

    # ------------------------------------------------------------------ direct

    async def _direct(self, body: GatewayChatRequest, expert: str, messages: list[dict], params: dict, trace_id: str | None) -> Response:
        try:
            completion = await self.gw.client.complete(expert, messages, params)
        except ExpertError:
            self.gw.metrics.observe_direct(expert, 0, 0, 0.0, ok=False)
            raise
        self.gw.metrics.observe_direct(expert, completion.prompt_tokens, completion.completion_tokens, completion.cost_usd)
        headers = orchestrator_headers("direct", [expert], None, completion.cost_usd)
        trace = _direct_trace(trace_id, completion) if trace_id else None
        response = chat_response(body.model or expert, completion.text, completion.finish_reason, completion.prompt_tokens, completion.completion_tokens, trace)
        return Response(response.model_dump_json(), media_type="application/json", headers=headers)

    async def _direct_stream(self, body: GatewayChatRequest, expert: str, messages: list[dict], params: dict, trace_id: str | None) -> Response:
        stream = self.gw.client.stream_completion(expert, messages, params)
        pump = _StreamPump(stream)
        try:
            first = await pump.first()  # an expert that is down fails here, with a proper status
        except ExpertError:
            self.gw.metrics.observe_direct(expert, 0, 0, 0.0, ok=False)
            raise
        writer = ChunkWriter(body.model or expert)

        async def events() -> AsyncIterator[str]:
            pieces = 0
            try:
                yield writer.delta(first or "", role="assistant")
                pieces += first is not None
                async for delta in pump.rest():
                    pieces += 1
                    yield writer.delta(delta)
            except ExpertError as exc:
                self.gw.metrics.observe_direct(expert, 0, 0, 0.0, ok=False)
                self.gw.metrics.errors.labels(type=type(exc).__name__).inc()
                yield error_event(exc)
                yield "data: [DONE]\n\n"
                return
            finally:
                await pump.aclose()
            completion = self._streamed_completion(stream, messages, pieces)
            self.gw.metrics.observe_direct(expert, completion.prompt_tokens, completion.completion_tokens, completion.cost_usd)
            # The cost is known only now, after the headers went out: it rides in the trace.
            extra = {"trace": _direct_trace(trace_id, completion)} if trace_id else {}
            yield writer.delta("", finish_reason=completion.finish_reason, **extra)
            if body.wants_usage_chunk:
                yield writer.usage(completion.prompt_tokens, completion.completion_tokens)
            yield "data: [DONE]\n\n"

        headers = orchestrator_headers("direct", [expert], None, None)
        return StreamingResponse(events(), media_type="text/event-stream", headers={**headers, **_SSE_HEADERS})

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


def _direct_trace(request_id: str, completion: Completion) -> dict[str, Any]:
    """A one-event trace for a pass-through call, shaped like the pipeline's ``expert`` events."""
    decision: dict[str, Any] = {"ok": True, "finish_reason": completion.finish_reason, "attempts": completion.attempts}
    if completion.ttft_s is not None:
        decision["ttft_ms"] = round(completion.ttft_s * 1000, 3)
    event = TraceEvent(
        "expert",
        decision,
        started_at=time.time() - completion.latency_s,
        duration_s=completion.latency_s,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cost_usd=completion.cost_usd,
        expert=completion.expert,
    )
    return Trace.of(request_id, [event]).to_dict()


class _StreamPump:
    """Drives an expert's delta stream in its own task and hands deltas over a queue.

    The handler awaits the first delta (so failures before any output become HTTP errors),
    while the response body is sent from another task; a queue keeps the expert's HTTP stream
    in one task for its whole life.
    """

    def __init__(self, stream: AsyncIterator[str]):
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

    async def first(self) -> str | None:
        try:
            item = await self._next()
        except BaseException:
            await self.aclose()
            raise
        return None if item is _DONE else item

    async def rest(self) -> AsyncIterator[str]:
        if self._finished:
            return
        while (item := await self._next()) is not _DONE:
            yield item

    async def aclose(self) -> None:
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
