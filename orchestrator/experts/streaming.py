"""A streamed expert call you iterate for text and then read for usage, cost and timing.

:meth:`ExpertClient.stream_completion` returns an :class:`ExpertStream`. Iterating it yields
the content deltas (``str``), exactly as ``ExpertClient.stream`` always has; once the
iteration has ended the stream also knows what the call cost::

    stream = client.stream_completion("e0", messages, {"max_tokens": 64})
    async for delta in stream:
        print(delta, end="")
    stream.usage, stream.cost_usd, stream.ttft_s, stream.latency_s, stream.finish_reason, stream.events

``usage`` is the server's own report: the client asks OpenAI-compatible servers for it with
``stream_options: {"include_usage": true}`` and vLLM sends it as the last chunk. A server that
ignores the option sends none; then ``usage`` and ``cost_usd`` stay None, never a guess.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from types import TracebackType

from orchestrator.config import Price
from orchestrator.experts.types import Completion, StreamPart, TraceEvent, Usage

__all__ = ["ExpertStream"]


class ExpertStream:
    """Text deltas of one streamed expert call, then its usage, cost, TTFT and trace events."""

    def __init__(self, expert: str):
        self.expert = expert
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.cost_usd: float | None = None
        self.ttft_s: float | None = None  # call start (first attempt) to the first non-empty content delta
        self.latency_s: float | None = None  # call start to the end of the stream
        self.attempts = 0
        self.queue_s = 0.0  # waiting for a scheduler slot before the call went out
        self.events: list[TraceEvent] = []
        self.done = False
        self._pieces: list[str] = []
        self._other_output = False  # tool-call or logprob deltas were yielded (no retry after them)
        self._deltas: AsyncGenerator[str, None] | None = None

    # ------------------------------------------------------------------ iteration

    def __aiter__(self) -> ExpertStream:
        return self

    async def __anext__(self) -> str:
        assert self._deltas is not None, "ExpertStream is made by ExpertClient.stream_completion"
        return await self._deltas.__anext__()

    async def aclose(self) -> None:
        """Stop early: closes the HTTP stream and frees the expert's concurrency slot."""
        if self._deltas is not None:
            await self._deltas.aclose()

    async def __aenter__(self) -> ExpertStream:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ results

    @property
    def started(self) -> bool:
        """True once content has been yielded (a failure after that is not retried)."""
        return bool(self._pieces) or self._other_output

    @property
    def text(self) -> str:
        return "".join(self._pieces)

    @property
    def completion(self) -> Completion:
        """The call as a :class:`Completion` (zero tokens and cost when the server sent no usage)."""
        if not self.done:
            raise RuntimeError(f"the stream from {self.expert} has not finished: iterate it to the end first")
        usage = self.usage or Usage(0, 0)
        return Completion(
            expert=self.expert,
            text=self.text,
            finish_reason=self.finish_reason or "stop",
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            latency_s=self.latency_s or 0.0,
            ttft_s=self.ttft_s,
            cost_usd=self.cost_usd or 0.0,
            attempts=self.attempts,
            events=self.events,
            queue_s=self.queue_s,
        )

    # ------------------------------------------------------------------ filled in by the client

    def _record(self, part: StreamPart, elapsed_s: float) -> None:
        if part.tool_calls or part.logprobs:
            self._other_output = True
        if part.content:
            if self.ttft_s is None:
                self.ttft_s = elapsed_s
            self._pieces.append(part.content)
        if part.finish_reason is not None:
            self.finish_reason = part.finish_reason
        if part.usage is not None:
            self.usage = part.usage  # with continuous_usage_stats every chunk carries one: the last wins

    def _finish(self, latency_s: float, price: Price) -> None:
        self.latency_s = latency_s
        if self.usage is not None:
            self.cost_usd = price.cost(self.usage.prompt_tokens, self.usage.completion_tokens)
        self.done = True
