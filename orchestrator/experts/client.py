"""One async client for every expert: transports, limits, timeouts, retries, breaker, fallback.

A call goes through, in order: the per-expert concurrency limit (``max_concurrency``), the
endpoint's circuit breaker, the residency gate (when a :class:`ResidencyManager` is given the
expert is woken first and pinned awake, so no request ever reaches a sleeping server), then
one transport call bounded by ``timeout_s``. Retryable failures (``ExpertError.retryable``)
are retried up to ``max_retries`` times with full-jitter backoff; every retry, timeout,
breaker opening and fallback is a :class:`TraceEvent` on the returned :class:`Completion`
(or on the raised error's ``events``).

Streams go through the same limit, breaker and residency gate, held for the whole stream.
:meth:`ExpertClient.stream_completion` returns an :class:`ExpertStream`: iterate it for text
deltas, then read the server-reported usage, the cost and the time to first token.

Transports: ``httpx`` posts OpenAI-format JSON straight to vLLM; ``litellm`` reaches any
provider. ``auto`` takes httpx for ``hosted_vllm/`` experts with an ``api_base`` and litellm for
everything else: measured side by side, litellm costs 1.5x the client CPU and 2.5x the
latency per call, 4.9x the CPU when streaming (docs/benchmarks.md, "Expert execution").
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx

from orchestrator.config import Config, ExpertConfig
from orchestrator.errors import ExpertError, ExpertTimeout, ExpertUnavailable, ModelNotFound, RoutingError
from orchestrator.experts.backoff import Backoff
from orchestrator.experts.breaker import BreakerState, CircuitBreaker
from orchestrator.experts.streaming import ExpertStream
from orchestrator.experts.transport_httpx import HttpxTransport
from orchestrator.experts.transport_litellm import LitellmTransport
from orchestrator.experts.types import Completion, RawCompletion, StreamPart, TraceEvent

if TYPE_CHECKING:
    from orchestrator.scheduling.residency import ResidencyManager

__all__ = ["BreakerOpen", "ExpertClient", "ExpertStream", "ResiliencePolicy", "TransportName"]

TransportName = Literal["auto", "litellm", "httpx"]


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
        residency: ResidencyManager | None = None,
        policy: ResiliencePolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ):
        if transport not in ("auto", "litellm", "httpx"):
            raise ValueError(f"transport must be 'auto', 'litellm' or 'httpx', got {transport!r}")
        self.config = config
        self.transport = transport
        self.residency = residency
        self.policy = policy or ResiliencePolicy()
        self._experts = {e.name: e for e in config.experts}
        self._httpx = HttpxTransport(http_client)
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
                attempts = getattr(exc, "attempts", attempts)
                last = exc
        assert last is not None
        raise last

    def stream_completion(self, expert: str, messages: list[dict], params: dict | None = None) -> ExpertStream:
        """A streamed call: iterate for content deltas, then read usage, cost and TTFT off it.

        Failures before the first delta are retried; after it they propagate (with ``.events``).
        Nothing is sent until the first iteration, and an unknown expert raises there too.
        """
        stream = ExpertStream(expert)
        stream._deltas = self._stream(stream, messages, dict(params or {}))
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
                exc.events, exc.attempts = events, attempts  # type: ignore[attr-defined]
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
                mean_logprob=raw.mean_logprob,
            )
        raise AssertionError("unreachable: the loop returns or raises")

    async def _stream(self, out: ExpertStream, messages: list[dict], params: dict) -> AsyncGenerator[str, None]:
        cfg = self.expert(out.expert)
        start = self._clock()
        for attempt in range(cfg.max_retries + 1):
            out.attempts += 1
            try:
                async with self._slot(cfg, out.events):
                    async for part in self.transport_for(cfg).stream(cfg, messages, params, cfg.timeout_s):
                        out._record(part, self._clock() - start)
                        if part.content:
                            yield part.content
                break
            except ExpertError as exc:
                exc.events, exc.attempts = out.events, out.attempts  # type: ignore[attr-defined]
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
        """Concurrency limit, breaker admission, residency pin; the outcome feeds the breaker."""
        async with self._limits[cfg.name]:
            breaker = self.breaker(cfg.name)
            if not breaker.allow():
                events.append(self._event("breaker_open", cfg.name, f"circuit open; next probe in {breaker.retry_after_s:.2f} s"))
                raise BreakerOpen(cfg.name, f"circuit breaker open for {cfg.api_base or cfg.name}")
            try:
                async with self._awake(cfg.name):
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

    def _awake(self, expert: str) -> contextlib.AbstractAsyncContextManager[Any]:
        if self.residency is None or not self.residency.manages(expert):
            return contextlib.nullcontext()
        return self.residency.use(expert)

    async def _retry_pause(self, expert: str, attempt: int, exc: ExpertError, events: list[TraceEvent]) -> None:
        delay = self._backoff.delay(attempt)
        events.append(self._event("retry", expert, f"attempt {attempt + 1} failed ({exc}); retrying in {delay:.3f} s"))
        await self._sleep(delay)
