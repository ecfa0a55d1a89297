"""How retrieved passages enter an expert's prompt (numbered, citable) and how to read them back.

The passages go into the last user turn, numbered ``[1]..[n]``, ahead of the question; the
expert is asked to cite them by number. :func:`parse_augmented` recovers the question and the
retrieval step from such a prompt (the simulator uses it to replay the recorded with-retrieval
answer).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from orchestrator.retrieval.store import Hit

__all__ = ["augment_messages", "augmented_prompt", "parse_augmented", "replay_key", "sources"]

INSTRUCTION = "Answer the question. Use the numbered sources below where they help and cite them like [1]."
_HEADER = re.compile(r"^Sources \(retrieval step (\d+)\):$", re.M)
_QUESTION = "\n\nQuestion: "


def augmented_prompt(question: str, hits: Sequence[Hit], *, step: int = 1, passage_chars: int = 1200) -> str:
    lines = [INSTRUCTION, "", f"Sources (retrieval step {step}):"]
    for i, h in enumerate(hits, 1):
        title = f"{h.title}: " if h.title else ""
        lines.append(f"[{i}] {title}{' '.join(h.text.split())[:passage_chars]}")
    return "\n".join(lines) + _QUESTION + question


def augment_messages(messages: list[dict[str, Any]], question: str, hits: Sequence[Hit], *, step: int = 1) -> list[dict[str, Any]]:
    """A copy of the conversation whose last user turn carries the numbered passages."""
    out = [dict(m) for m in messages]
    for m in reversed(out):
        if m.get("role") == "user":
            m["content"] = augmented_prompt(question, hits, step=step)
            break
    return out


def parse_augmented(prompt: str) -> tuple[str, int] | None:
    """``(question, retrieval step)`` of a prompt built by :func:`augmented_prompt`, else None."""
    m = _HEADER.search(prompt)
    if not prompt.startswith(INSTRUCTION) or m is None or _QUESTION not in prompt:
        return None
    return prompt.rsplit(_QUESTION, 1)[1], int(m.group(1))


def replay_key(question: str, strategy: str) -> str:
    """The prompt under which a replay dataset records the answer with ``strategy`` (see the simulator)."""
    return question if strategy == "no_retrieval" else f"[retrieval: {strategy}] {question}"


def sources(hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """The citation list a response carries: number, source, title, chunk, score."""
    return [{"n": i, "source": h.source, "title": h.title, "chunk": h.ordinal, "score": round(h.score, 4)} for i, h in enumerate(hits, 1)]
