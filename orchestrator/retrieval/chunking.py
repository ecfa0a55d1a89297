"""Splitting a document into overlapping chunks, cut at paragraph, sentence or word boundaries."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Chunk", "chunk_text"]


@dataclass(frozen=True)
class Chunk:
    source: str
    ordinal: int
    title: str
    text: str


_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"(?<=[.!?])\s+"), re.compile(r"\s+"))


def _cut(text: str, start: int, limit: int) -> int:
    """The best place to end a chunk that starts at ``start`` and may run to ``limit``."""
    if limit >= len(text):
        return len(text)
    floor = start + (limit - start) // 2  # never cut in the first half: chunks stay near full size
    for pattern in _BREAKS:
        ends = [m.end() for m in pattern.finditer(text, floor, limit)]
        if ends:
            return ends[-1]
    return limit


def chunk_text(text: str, *, source: str = "", title: str = "", size: int = 1000, overlap: int = 200) -> list[Chunk]:
    """Chunks of at most ``size`` characters; consecutive chunks share about ``overlap`` characters
    so a fact cut at a boundary is whole in one of them."""
    if not 0 <= overlap < size:
        raise ValueError(f"overlap ({overlap}) must be in [0, size={size})")
    text = text.strip()
    chunks: list[Chunk] = []
    start = 0
    while start < len(text):
        end = _cut(text, start, start + size)
        piece = text[start:end].strip()
        if piece:
            chunks.append(Chunk(source, len(chunks), title, piece))
        if end >= len(text):
            break
        # Step back by the overlap, then forward to a word start so no chunk begins mid-word.
        nxt = max(end - overlap, start + 1)
        m = re.compile(r"\s").search(text, nxt, end)
        start = m.end() if m and overlap else (end if not overlap else nxt)
    return chunks
