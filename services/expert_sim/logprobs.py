"""Token logprobs in vLLM's wire shape (chat: OpenAI's ``{"content": [...]}``); values come from
:mod:`services.expert_sim.logprob_values`."""

from __future__ import annotations

from typing import Any

from services.expert_sim.logprob_values import TokenLogprob, token_entries

__all__ = ["chat_logprobs"]


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode())}


def _chat_content(values: list[TokenLogprob]) -> list[dict[str, Any]]:
    return [{**_entry(v.token, v.logprob), "top_logprobs": [_entry(t, lp) for t, lp in v.top]} for v in values]


def chat_logprobs(tokens: list[str], values: list[float], top_logprobs: int, *, start: int = 0, seed: int = 0) -> dict[str, Any]:
    """``choices[].logprobs`` of a chat response or chunk covering ``tokens`` (with their ``values``)."""
    return {"content": _chat_content(token_entries(tokens, values, top_logprobs, start=start, seed=seed))}
