"""Building OpenAI wire objects from pipeline results: responses, SSE chunks, headers, params."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import Field, model_validator

from orchestrator.errors import InvalidRequest
from orchestrator.pipeline import RequestOptions
from orchestrator.protocol import (
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatCompletionResponseChoice,
    ChatCompletionStreamChoice,
    DeltaMessage,
    ResponseMessage,
    UsageInfo,
    message_text,
    random_id,
    sse_event,
)
from orchestrator.trace import Trace

__all__ = [
    "GatewayChatRequest",
    "chat_response",
    "event_headers",
    "finite",
    "orchestrator_headers",
    "pieces",
    "prompt_tokens_estimate",
    "request_messages",
    "verification_headers",
]

CHARS_PER_TOKEN = 4  # prompt-size guard: a cheap estimate, no tokenizer on the hot path
STREAM_PIECE_CHARS = 32


class GatewayChatRequest(ChatCompletionRequest):
    """OpenAI's chat request, with OpenAI's documented parameter ranges enforced (a 400 naming
    the field), plus the ``orchestrator`` extra body field (per-request options)."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    presence_penalty: float | None = Field(default=0.0, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=0.0, ge=-2, le=2)
    logit_bias: dict[str, Annotated[float, Field(ge=-100, le=100)]] | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    parallel_tool_calls: bool | None = None
    orchestrator: RequestOptions | None = None

    @model_validator(mode="after")
    def _openai_dependencies(self) -> GatewayChatRequest:
        if self.top_logprobs and not self.logprobs:
            raise InvalidRequest("top_logprobs needs logprobs: true", param="top_logprobs")
        if "tool_choice" in self.model_fields_set and self.tool_choice not in (None, "none") and not self.tools:
            raise InvalidRequest("tool_choice is only allowed when tools are given", param="tool_choice")
        return self


def prompt_tokens_estimate(body: ChatCompletionRequest) -> int:
    """A cheap prompt-size estimate (no tokenizer on the hot path)."""
    return math.ceil(sum(len(message_text(m)) for m in body.messages) / CHARS_PER_TOKEN)


def request_messages(body: ChatCompletionRequest, max_prompt_tokens: int) -> list[dict[str, Any]]:
    if body.n != 1:
        raise InvalidRequest("only n=1 is supported", param="n")
    estimate = prompt_tokens_estimate(body)
    if estimate > max_prompt_tokens:
        raise InvalidRequest(
            f"The prompt is about {estimate} tokens (estimated at {CHARS_PER_TOKEN} characters a token), "
            f"over this gateway's limit of {max_prompt_tokens}.",
            param="messages",
        )
    return [m.model_dump(exclude_none=True) for m in body.messages]


def orchestrator_headers(category: str, experts: list[str], aggregator: str | None, cost_usd: float | None) -> dict[str, str]:
    headers = {
        "x-orchestrator-category": category,
        "x-orchestrator-experts": ",".join(experts),
        "x-orchestrator-aggregator": aggregator or "none",
    }
    if cost_usd is not None:
        headers["x-orchestrator-cost-usd"] = f"{cost_usd:.10f}"
    return headers


_COUNTED = {"retry": "retries", "fallback": "fallbacks", "wake": "swaps", "sleep": "swaps", "breaker_open": "breaker-opens"}


def event_headers(trace: Trace) -> dict[str, str]:
    """What happened on the way to the experts, in headers: retries, fallbacks, swaps, breaker
    openings and the longest queue wait (the details are in the trace)."""
    counts: Counter[str] = Counter()
    queue_ms = 0.0
    for event in trace.events:
        if event.step != "expert":
            continue
        queue_ms = max(queue_ms, float(event.decision.get("queue_ms", 0.0)))
        counts.update(_COUNTED[e["kind"]] for e in event.decision.get("events", []) if e["kind"] in _COUNTED)
    counts["fallbacks"] += sum(len(e.decision.get("fallbacks", [])) for e in trace.steps("dispatch"))
    headers = {f"x-orchestrator-{name}": str(counts[name]) for name in ("retries", "fallbacks", "swaps", "breaker-opens")}
    headers["x-orchestrator-queue-ms"] = f"{queue_ms:.1f}"
    return headers


def verification_headers(result: Any) -> dict[str, str]:
    """``x-orchestrator-verified``: verified | unverified (flagged) | skipped, plus the verdict's probability."""
    if result is None:
        return {"x-orchestrator-verified": "skipped"}
    headers = {"x-orchestrator-verified": result.status}
    if result.probability is not None:
        headers["x-orchestrator-verification-p"] = f"{result.probability:.4f}"
    return headers


def chat_response(
    model: str, text: str, finish_reason: str, prompt_tokens: int, completion_tokens: int, trace: dict | None,
    *, tool_calls: list[dict] | None = None, logprobs: dict | None = None,
) -> ChatCompletionResponse:
    extra = {"trace": trace} if trace is not None else {}
    # OpenAI sends content null on a message that only calls tools.
    message = ResponseMessage(content=None if tool_calls and not text else text, tool_calls=tool_calls or [])
    return ChatCompletionResponse(
        model=model,
        choices=[ChatCompletionResponseChoice(message=message, finish_reason=finish_reason, logprobs=logprobs)],
        usage=UsageInfo(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, total_tokens=prompt_tokens + completion_tokens),
        **extra,
    )


class ChunkWriter:
    """SSE chunks of one streamed completion (constant id and created, as vLLM)."""

    def __init__(self, model: str):
        self.id = random_id("chatcmpl")
        self.created = int(time.time())
        self.model = model

    def delta(
        self, content: str | None, *, role: str | None = None, finish_reason: str | None = None,
        tool_calls: list[dict] | None = None, logprobs: dict | None = None, **extra: Any,
    ) -> str:
        fields: dict[str, Any] = {"content": content}
        if role:
            fields["role"] = role
        if tool_calls:
            fields["tool_calls"] = tool_calls
        choice = ChatCompletionStreamChoice(delta=DeltaMessage(**fields), logprobs=logprobs, finish_reason=finish_reason)
        return sse_event(ChatCompletionChunk(id=self.id, created=self.created, model=self.model, choices=[choice], **extra))

    def usage(self, prompt_tokens: int, completion_tokens: int) -> str:
        usage = UsageInfo(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, total_tokens=prompt_tokens + completion_tokens)
        return sse_event(ChatCompletionChunk(id=self.id, created=self.created, model=self.model, choices=[], usage=usage), exclude_none=True)


def pieces(text: str, size: int = STREAM_PIECE_CHARS) -> Iterator[str]:
    """Split at whitespace into pieces of about ``size`` characters (never mid-word when avoidable)."""
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            space = text.rfind(" ", start + 1, end)
            end = space if space > start else end
        yield text[start:end]
        start = end


def finite(value: Any) -> Any:
    """``value`` with non-finite floats replaced by None (JSON has no Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value
