"""The one seam through which verification reaches experts and the judge.

Verification never builds its own clients: it is handed the same ``call(expert, messages,
params)`` the pipeline's dispatch node uses (``PipelineContext.call``), so whatever sits behind
that (the scheduler, the expert client, a simulator) serves debaters and judges too.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["CallResult", "ExpertCaller"]


class CallResult(Protocol):
    """What verification reads off a completion (``orchestrator.experts.Completion`` has it all)."""

    expert: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float


class ExpertCaller(Protocol):
    async def __call__(self, expert: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> CallResult: ...
