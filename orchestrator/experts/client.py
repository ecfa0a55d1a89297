"""One async client for every expert: transports, limits, timeouts, retries, breaker, fallback.

A call goes through, in order: the per-expert concurrency limit (``max_concurrency``), the
endpoint's circuit breaker, then one transport call bounded by ``timeout_s``. Retryable failures
(``ExpertError.retryable``) are retried up to ``max_retries`` times with full-jitter backoff;
every retry, timeout, breaker change and fallback is a :class:`TraceEvent` on the returned
:class:`Completion` (or on the raised error's ``events``).

This client knows nothing of queues or residency: the scheduler (``orchestrator.scheduling``)
decides when a call may go out and keeps the expert awake while it runs. Call the client
directly only where no scheduler exists (tests, tools that own a single expert).

Streams go through the same limit and breaker, held for the whole stream.
:meth:`ExpertClient.stream_completion` returns an :class:`ExpertStream`: iterate it for text
deltas, then read the server-reported usage, the cost and the time to first token.

Transports: ``httpx`` posts OpenAI-format JSON straight to vLLM; ``litellm`` reaches any
provider. ``auto`` takes httpx for ``hosted_vllm/`` experts with an ``api_base`` and litellm for
everything else: measured side by side, litellm costs 1.5x the client CPU and 2.5x the
latency per call, 4.9x the CPU when streaming (docs/benchmarks.md, "Expert execution").
Tests replace the network, not the client: pass ``http_transport=httpx.MockTransport(handler)``
(or an ``httpx.ASGITransport`` around the simulator).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from orchestrator.config import Config, ExpertConfig
from orchestrator.errors import ExpertError, ExpertTimeout, ExpertUnavailable, ModelNotFound, RoutingError
from orchestrator.experts.backoff import Backoff
from orchestrator.experts.breaker import BreakerState, CircuitBreaker
from orchestrator.experts.streaming import ExpertStream
from orchestrator.experts.transport_httpx import HttpxTransport
from orchestrator.experts.transport_litellm import LitellmTransport
from orchestrator.experts.types import Completion, RawCompletion, StreamPart, TraceEvent

__all__ = ["BreakerOpen", "ExpertClient", "ExpertStream", "ResiliencePolicy", "TransportName"]

TransportName = Literal["auto", "litellm", "httpx"]
Admission = Callable[[ExpertStream], contextlib.AbstractAsyncContextManager[Any]]
"""Entered before a stream's first attempt and held until it ends (the scheduler's slot)."""


class BreakerOpen(ExpertUnavailable):
    """The endpoint's circuit breaker refuses calls; retrying before the cool-down is pointless."""

    retryable = False


class Transport(Protocol):
    name: str

    async def complete(self, expert: ExpertConfig, messages: list[dict], params: dict, timeout_s: float) -> RawCompletion: ...

    def stream(self, expert: ExpertConfig, messages: list[dict], params: dict, timeout_s: float) -> AsyncIterator[StreamPart]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ResiliencePolicy:
    """Breaker and backoff settings shared by every expert (per-expert limits live in the config)."""

    breaker_threshold: int = 5
    breaker_cooldown_s: float = 10.0
    backoff_base_s: float = 0.1
    backoff_max_s: float = 2.0
    seed: int | None = None


class ExpertClient:
    def __init__(
        self,
        config: Config,
        *,
        transport: TransportName = "auto",
        policy: ResiliencePolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ):
        if transport not in ("auto", "litellm", "httpx"):
            raise ValueError(f"transport must be 'auto', 'litellm' or 'httpx', got {transport!r}")
        self.config = config
        if http_client is not None and http_transport is not None:
            raise ValueError("pass http_client or http_transport, not both")
        self.transport = transport
        self.policy = policy or ResiliencePolicy()
        self._experts = {e.name: e for e in config.experts}
        self._httpx = HttpxTransport(http_client, transport=http_transport)
        self._litellm = LitellmTransport()
        self._clock = clock
        self._sleep = sleep
        self._backoff = Backoff(self.policy.backoff_base_s, self.policy.backoff_max_s, random.Random(self.policy.seed))
        self._limits = {e.name: asyncio.Semaphore(e.max_concurrency) for e in config.experts}
        self._breakers: dict[str, CircuitBreaker] = {}

    # ------------------------------------------------------------------ lookups

    def expert(self, name: str) -> ExpertConfig:
        try:
            return self._experts[name]
        except KeyError:
            raise ModelNotFound(name) from None

    def transport_for(self, expert: ExpertConfig) -> Transport:
        use_httpx = self.transport == "httpx" or (
            self.transport == "auto" and expert.provider == "hosted_vllm" and expert.api_base is not None
        )
        if use_httpx and not HttpxTransport.supports(expert):
            raise ExpertUnavailable(expert.name, "the httpx transport needs an api_base")
        return self._httpx if use_httpx else self._litellm

    def breaker(self, expert: str) -> CircuitBreaker:
        """The breaker of the expert's endpoint (experts sharing an api_base share one)."""
        key = self.expert(expert).api_base or expert
        if key not in self._breakers:
            self._breakers[key] = CircuitBreaker(
                failure_threshold=self.policy.breaker_threshold, cooldown_s=self.policy.breaker_cooldown_s, clock=self._clock
            )
        return self._breakers[key]

    def breaker_states(self) -> dict[str, BreakerState]:
        return {name: self.breaker(name).state for name in self._experts}

    # ------------------------------------------------------------------ calls

    async def complete(self, expert: str, messages: list[dict], params: dict | None = None) -> Completion:
        """One expert's completion; raises an :class:`ExpertError` (with ``.events``) when it fails."""
        return await self._complete(expert, messages, dict(params or {}), [], 0)

    async def complete_with_fallback(self, candidates: list[str], messages: list[dict], params: dict | None = None) -> Completion:
        """Try the ranked ``candidates`` in order until one answers; each switch is a ``fallback`` event."""
        if not candidates:
            raise RoutingError("complete_with_fallback needs at least one candidate expert")
        events: list[TraceEvent] = []
        attempts = 0
        last: ExpertError | None = None
        for name in candidates:
            if last is not None:
                events.append(self._event("fallback", name, f"{last.expert} failed ({last}); falling back to {name}"))
            try:
                return await self._complete(name, messages, dict(params or {}), events, attempts)
            except ExpertError as exc:
                attempts = exc.attempts or attempts
                last = exc
        assert last is not None
        raise last

    def stream_completion(
        self, expert: str, messages: list[dict], params: dict | None = None, *, parts: bool = False, admission: Admission | None = None
    ) -> ExpertStream:
        """A streamed call: iterate for content deltas, then read usage, cost and TTFT off it.

        Failures before the first delta are retried; after it they propagate (with ``.events``).
        Nothing is sent until the first iteration, and an unknown expert raises there too.
        ``parts=True`` yields :class:`StreamPart` objects instead of text, so tool-call and
        logprob deltas reach a pass-through caller too. ``admission(stream)``, when given, is
        entered before the first attempt and held until the stream ends: the scheduler's slot
        (its expert stays awake, its queue wait is recorded).
        """
        stream = ExpertStream(expert)
        stream._deltas = self._stream(stream, messages, dict(params or {}), parts, admission)
        return stream

    def stream(self, expert: str, messages: list[dict], params: dict | None = None) -> ExpertStream:
        """Content deltas (``str``); the same object as :meth:`stream_completion`."""
        return self.stream_completion(expert, messages, params)

    async def aclose(self) -> None:
        await self._httpx.aclose()
        await self._litellm.aclose()

    async def __aenter__(self) -> ExpertClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ internals

    def _event(self, kind: str, expert: str, detail: str) -> TraceEvent:
        return TraceEvent(kind=kind, expert=expert, detail=detail, at=self._clock())

    async def _complete(self, name: str, messages: list[dict], params: dict, events: list[TraceEvent], attempts: int) -> Completion:
        cfg = self.expert(name)
        start = self._clock()
        for attempt in range(cfg.max_retries + 1):
            attempts += 1
            try:
                async with self._slot(cfg, events):
                    raw = await self._call(cfg, messages, params)
            except ExpertError as exc:
                exc.events, exc.attempts = events, attempts
                if not exc.retryable or attempt >= cfg.max_retries:
                    events.append(self._event("error", cfg.name, str(exc)))
                    raise
                await self._retry_pause(cfg.name, attempt, exc, events)
                continue
            return Completion(
                expert=cfg.name,
                text=raw.text,
                finish_reason=raw.finish_reason,
                prompt_tokens=raw.prompt_tokens,
                completion_tokens=raw.completion_tokens,
                latency_s=self._clock() - start,
                ttft_s=raw.ttft_s,
                cost_usd=cfg.price.cost(raw.prompt_tokens, raw.completion_tokens),
                attempts=attempts,
                events=events,
                tool_calls=raw.tool_calls,
                logprobs=raw.logprobs,
            )
        raise AssertionError("unreachable: the loop returns or raises")

    async def _stream(self, out: ExpertStream, messages: list[dict], params: dict, parts: bool, admission: Admission | None) -> AsyncGenerator[Any, None]:
        cfg = self.expert(out.expert)
        async with admission(out) if admission is not None else contextlib.nullcontext():
            async with contextlib.aclosing(self._attempts(cfg, out, messages, params, parts)) as deltas:
                async for delta in deltas:
                    yield delta

    async def _attempts(self, cfg: ExpertConfig, out: ExpertStream, messages: list[dict], params: dict, parts: bool) -> AsyncGenerator[Any, None]:
        start = self._clock()
        for attempt in range(cfg.max_retries + 1):
            out.attempts += 1
            try:
                async with self._slot(cfg, out.events):
                    async for part in self.transport_for(cfg).stream(cfg, messages, params, cfg.timeout_s):
                        out._record(part, self._clock() - start)
                        if parts and part.has_output:
                            yield part
                        elif part.content and not parts:
                            yield part.content
                break
            except ExpertError as exc:
                exc.events, exc.attempts = out.events, out.attempts
                if out.started or not exc.retryable or attempt >= cfg.max_retries:
                    out.events.append(self._event("error", cfg.name, str(exc)))
                    raise
                await self._retry_pause(cfg.name, attempt, exc, out.events)
        out._finish(self._clock() - start, cfg.price)

    async def _call(self, cfg: ExpertConfig, messages: list[dict], params: dict) -> RawCompletion:
        try:
            async with asyncio.timeout(cfg.timeout_s):  # bounds the body too, not only each read
                return await self.transport_for(cfg).complete(cfg, messages, params, cfg.timeout_s)
        except TimeoutError as exc:
            raise ExpertTimeout(cfg.name, f"no response within {cfg.timeout_s:g} s") from exc

    @contextlib.asynccontextmanager
    async def _slot(self, cfg: ExpertConfig, events: list[TraceEvent]) -> AsyncIterator[None]:
        """Concurrency limit and breaker admission; the outcome feeds the breaker."""
        async with self._limits[cfg.name]:
            breaker = self.breaker(cfg.name)
            if not breaker.allow():
                events.append(self._event("breaker_open", cfg.name, f"circuit open; next probe in {breaker.retry_after_s:.2f} s"))
                raise BreakerOpen(cfg.name, f"circuit breaker open for {cfg.name}")
            probing = breaker.state is BreakerState.HALF_OPEN
            if probing:
                events.append(self._event("breaker_probe", cfg.name, "circuit half-open: this call is the probe"))
            try:
                yield
            except ExpertError as exc:
                if isinstance(exc, ExpertTimeout):
                    events.append(self._event("timeout", cfg.name, str(exc)))
                if exc.retryable:
                    if breaker.record_failure():
                        events.append(self._event("breaker_open", cfg.name, f"opened after {breaker.failure_threshold} consecutive failures"))
                else:
                    breaker.record_success()  # the server answered: the endpoint is healthy, the request was not
                raise
            except BaseException:
                breaker.release_probe()
                raise
            breaker.record_success()
            if probing:
                events.append(self._event("breaker_closed", cfg.name, "the probe succeeded: circuit closed"))

    async def _retry_pause(self, expert: str, attempt: int, exc: ExpertError, events: list[TraceEvent]) -> None:
        delay = self._backoff.delay(attempt)
        events.append(self._event("retry", expert, f"attempt {attempt + 1} failed ({exc}); retrying in {delay:.3f} s"))
        await self._sleep(delay)
