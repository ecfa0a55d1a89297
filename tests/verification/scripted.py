"""An in-process stand-in for the expert call (the verifier's ``ExpertCaller`` seam): each expert
answers through a function of the messages it receives, and every call is recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from orchestrator.errors import ExpertUnavailable
from orchestrator.experts.types import Completion

Reply = str | Callable[[list[dict]], str]


class ScriptedExperts:
    def __init__(self, replies: dict[str, Reply], *, delays: dict[str, float] | None = None, usd_per_call: float = 1e-4):
        self.replies = replies
        self.delays = delays or {}
        self.usd_per_call = usd_per_call
        self.calls: list[tuple[str, list[dict], dict]] = []

    async def __call__(self, expert: str, messages: list[dict], params: dict) -> Completion:
        self.calls.append((expert, messages, params))
        await asyncio.sleep(self.delays.get(expert, 0.0))
        reply = self.replies.get(expert)
        if reply is None:
            raise ExpertUnavailable(expert, "not scripted")
        text = reply(messages) if callable(reply) else reply
        prompt_tokens = sum(len(m["content"]) for m in messages) // 4
        return Completion(expert, text, "stop", prompt_tokens, len(text) // 4 + 1, 0.01, None, self.usd_per_call, 1)

    def to(self, expert: str) -> list[list[dict]]:
        return [m for e, m, _ in self.calls if e == expert]


def user_text(messages: list[dict]) -> str:
    return messages[0]["content"]
