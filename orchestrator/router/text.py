"""What part of a prompt the router looks at.

MiniLM reads at most 256 word pieces (about 1,000 characters). Long prompts are usually
few-shot: a shared header, solved examples, then the actual question at the very end. Cutting
at 256 pieces would give every such prompt the *same* embedding (all 1,456 ARC rows of
routerbench3 share their first 1,000 characters), so the router keeps the head (which names
the task and format) and the tail (which holds the question) and drops the middle.
"""

from __future__ import annotations

__all__ = ["HEAD_CHARS", "TAIL_CHARS", "query_view", "query_views"]

HEAD_CHARS = 240
TAIL_CHARS = 760
VIEW_VERSION = 1  # bump when the view changes: cached embeddings and artifacts key on it


def query_view(prompt: str, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> str:
    """``prompt`` unchanged when short, else its first ``head`` and last ``tail`` characters."""
    text = prompt.strip()
    if len(text) <= head + tail + 20:
        return text
    return f"{text[:head]} … {text[-tail:]}"


def query_views(prompts: list[str]) -> list[str]:
    return [query_view(p) for p in prompts]
