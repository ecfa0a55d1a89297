"""The seam between retrieval and a vector store, and what a search returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from orchestrator.retrieval.chunking import Chunk

__all__ = ["Hit", "VectorStore"]


@dataclass(frozen=True)
class Hit(Chunk):
    """A stored chunk found by a search, with how close it is."""

    score: float
    """Cosine similarity to the query (higher is closer)."""

    def to_dict(self, *, text_chars: int | None = None) -> dict[str, object]:
        text = self.text if text_chars is None else self.text[:text_chars]
        return {"source": self.source, "chunk": self.ordinal, "title": self.title, "score": round(self.score, 4), "text": text}


class VectorStore(Protocol):
    """One index's chunks and their unit-norm vectors.

    ``replace_document`` is atomic per document: if it fails, the document's previous chunks
    are still there, so a failed ingest loses nothing already indexed.
    """

    def documents(self) -> dict[str, str]:
        """source -> sha256 of every indexed document."""
        ...

    def replace_document(self, source: str, sha256: str, chunks: list[Chunk], vectors: np.ndarray) -> None: ...

    def delete_document(self, source: str) -> bool:
        """True when the document was there."""
        ...

    def search(self, vector: np.ndarray, k: int) -> list[Hit]: ...

    def centroid(self) -> np.ndarray | None:
        """Mean chunk vector (unit-normalised), or None when empty: picks the index for a query."""
        ...

    def count(self) -> int:
        """Number of chunks."""
        ...

    def close(self) -> None: ...
