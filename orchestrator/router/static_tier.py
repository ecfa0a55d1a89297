"""The fast embedding tier: static token vectors distilled locally from the packaged MiniLM.

Each vocabulary token gets one vector (MiniLM's mean-pooled output for the token on its own);
a sentence is the smooth-inverse-frequency-weighted mean of its tokens' vectors, mapped into
MiniLM's space by a ridge projection fitted on the training prompts' real MiniLM embeddings. Scoring a query is one tokenizer call and a small matrix product (well
under a millisecond, no torch), so the same router runs on both tiers; `bench_routing_quality`
shows what the speed costs in routing quality.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["StaticEmbedder"]


class StaticEmbedder:
    """``encode(texts)`` like :class:`orchestrator.embeddings.Embedder`, from a distilled table.

    ``table``: ``{"vectors" (vocab, d) float16, "weights" (vocab,), "W" (d, d), "b" (d,)}``;
    ``base``: the MiniLM embedder it was distilled from (artifacts check the base's fingerprint).
    """

    def __init__(self, table: dict[str, np.ndarray], base: Any = None):
        self.table = table
        self.base = base
        self._vectors = table["vectors"].astype(np.float32)
        self._weights = table["weights"].astype(np.float32)
        self._tokenizer = None

    @property
    def name(self) -> str:
        return self.base.name

    @cached_property
    def fingerprint(self) -> str:
        """This tier's own identity: the base model's fingerprint plus the distilled table, so an
        embedding cache never confuses static vectors with MiniLM's (or two distillations)."""
        h = hashlib.sha256(f"static:{self.base.fingerprint}".encode())
        for key in sorted(self.table):
            h.update(key.encode())
            h.update(np.ascontiguousarray(self.table[key]).tobytes())
        return h.hexdigest()

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            from orchestrator.embeddings import packaged_model_path

            base_path = getattr(self.base, "path", None)
            path = Path(base_path) if base_path is not None else packaged_model_path()
            tok = Tokenizer.from_file(str(path / "tokenizer.json"))
            tok.no_padding()
            tok.no_truncation()
            self._tokenizer = tok
        return self._tokenizer

    def pooled(self, texts: list[str]) -> np.ndarray:
        """Frequency-weighted mean of static token vectors (before the projection)."""
        out = np.zeros((len(texts), self._vectors.shape[1]), dtype=np.float32)
        for i, enc in enumerate(self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids = np.asarray(enc.ids, dtype=np.int64)
            if ids.size:
                w = self._weights[ids]
                out[i] = (w[:, None] * self._vectors[ids]).sum(axis=0) / max(float(w.sum()), 1e-6)
        return out

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        z = self.pooled(texts) @ self.table["W"] + self.table["b"]
        return (z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-9)).astype(np.float32)
