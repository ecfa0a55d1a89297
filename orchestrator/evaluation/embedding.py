"""Embed a dataset's prompts once, in bounded chunks, exactly as the router sees them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["embed_prompts"]

DEFAULT_CHUNK = 2048
WHOLE_FILE_CACHE_MAX = 20_000


def _view(prompts: list[str]) -> list[str]:
    # The router embeds a head+tail view of long prompts; evaluation must embed the same text.
    try:
        from orchestrator.router.text import query_views
    except ImportError:  # pragma: no cover - the router package always ships text.py
        return prompts
    return query_views(prompts)


def _cache_fn(embedder: Any, cache_dir: Path | None) -> Callable[[list[str]], np.ndarray] | None:
    """The training code's on-disk cache (same key, same view), or None when it cannot be used."""
    from orchestrator.embeddings import Embedder

    # Only the plain MiniLM embedder is worth a disk cache: the static tier embeds ~1,000x
    # faster (and has its own fingerprint, so the two never share cache entries).
    if cache_dir is None or type(embedder) is not Embedder:
        return None
    try:
        from router_training.embedding_cache import cached_embeddings
    except ImportError:
        return None
    return lambda part: cached_embeddings(part, embedder, cache_dir=cache_dir)


def embed_prompts(
    prompts: list[str],
    embedder: Any,
    *,
    chunk: int = DEFAULT_CHUNK,
    on_chunk: Callable[[int], None] | None = None,
    cache_dir: Path | None = None,
) -> np.ndarray:
    """``(len(prompts), dim)`` float32, as the router embeds them.

    Files up to ``WHOLE_FILE_CACHE_MAX`` prompts are embedded in one cached call, keyed like the
    training code's, so an evaluation reuses embeddings ``orchestrator train`` already paid for.
    Larger inputs go ``chunk`` prompts at a time into one preallocated array (each chunk cached
    on its own), so memory stays bounded on 100k-row files. ``on_chunk(n_done)`` reports progress.
    """
    cached = _cache_fn(embedder, cache_dir)
    if cached is not None and len(prompts) <= WHOLE_FILE_CACHE_MAX:
        out = np.asarray(cached(prompts), dtype=np.float32)
        if on_chunk is not None:
            on_chunk(len(prompts))
        return out
    encode = cached or (lambda part: embedder.encode(_view(part)))
    out: np.ndarray | None = None
    for start in range(0, len(prompts), chunk):
        part = np.asarray(encode(prompts[start : start + chunk]), dtype=np.float32)
        if out is None:
            out = np.empty((len(prompts), part.shape[1]), dtype=np.float32)
        out[start : start + len(part)] = part
        if on_chunk is not None:
            on_chunk(len(part))
    if out is None:
        return np.zeros((0, 0), dtype=np.float32)
    return out
