"""One simulated request from admission to the last token, as a stream of token steps.

Both endpoints (chat and text completions) and both modes (JSON and SSE) consume the same
:func:`decode` generator, so their timing, token counts, finish reasons and metrics agree.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from services.expert_sim.engine import Engine
from services.expert_sim.metrics import SimMetrics


@dataclass(frozen=True)
class Plan:
    """What a request will produce: its prompt size and the pieces of its answer."""

    prompt_tokens: int
    pieces: list[str]
    max_tokens: int

    @property
    def emitted_pieces(self) -> list[str]:
        return self.pieces[: self.max_tokens]

    @property
    def natural_finish(self) -> str:
        return "length" if len(self.pieces) >= self.max_tokens else "stop"


@dataclass
class Step:
    """A run of new text; ``finish_reason`` is set on the last one."""

    text: str
    tokens: int
    finish_reason: str | None = None


@dataclass
class Outcome:
    completion_tokens: int = 0
    finish_reason: str = "abort"


async def decode(
    engine: Engine,
    metrics: SimMetrics,
    plan: Plan,
    outcome: Outcome,
    *,
    tokens_per_step: int = 1,
    extra_gap_s: float = 0.0,
) -> AsyncIterator[Step]:
    """Admit, prefill, then yield the answer ``tokens_per_step`` tokens at a time.

    ``outcome`` is filled in as tokens go, so the caller still knows what was generated when
    the client disconnects and this generator is closed early (recorded as ``abort``).
    """
    arrived = time.monotonic()
    pieces = plan.emitted_pieces
    async with engine.admit(plan.prompt_tokens + plan.max_tokens) as ticket:
        queue_s = time.monotonic() - arrived
        first_at = last_at = arrived
        try:
            await engine.wait(engine.prefill_seconds(plan.prompt_tokens))
            i = 0
            while i < len(pieces):
                if engine.aborted(ticket):
                    outcome.finish_reason = "abort"
                    yield Step("", 0, "abort")
                    return
                await engine.until_awake()
                n = min(tokens_per_step, len(pieces) - i) if i else 1
                if i:
                    await engine.wait(engine.inter_token_seconds() * n + extra_gap_s)
                now = time.monotonic()
                if i == 0:
                    first_at = now
                else:
                    metrics.itl.observe((now - last_at) / n)
                last_at = now
                i += n
                outcome.completion_tokens = i
                last = i >= len(pieces)
                reason = plan.natural_finish if last and plan.natural_finish == "length" else None
                yield Step("".join(pieces[i - n : i]), n, reason)
            if plan.natural_finish == "stop":
                # vLLM counts the EOS token and sends it as an empty delta carrying the reason.
                outcome.completion_tokens += 1
                yield Step("", 1, "stop")
            outcome.finish_reason = plan.natural_finish
        finally:
            done = time.monotonic()
            metrics.record_finished(
                reason=outcome.finish_reason,
                prompt_tokens=plan.prompt_tokens,
                generated=outcome.completion_tokens,
                queue_s=queue_s,
                ttft_s=first_at - arrived,
                e2e_s=done - arrived,
            )
