"""Embeddings of whole files, cached on disk in a cache folder outside the source tree.

The folder is ``$ORCHESTRATOR_CACHE_DIR/embeddings`` when that is set, else the user cache dir
(``$XDG_CACHE_HOME`` or ``~/.cache``) ``/orchestrator/embeddings``; the CLI's
``--cache-dir`` overrides it and ``--no-embedding-cache`` turns caching off.

Embedding the shared routing files takes minutes on a 2-core CPU; development, tests and
benchmarks reuse the cache. The key covers the texts, the embedding model's fingerprint and
the router's prompt view, so a stale cache can never be read for other inputs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from orchestrator.router.text import VIEW_VERSION, query_views

__all__ = ["DEFAULT_CACHE_DIR", "cache_path", "cached_embeddings", "default_cache_dir"]


def default_cache_dir() -> Path:
    """Where embedding caches go unless told otherwise (never inside the source tree)."""
    root = os.environ.get("ORCHESTRATOR_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "embeddings"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "orchestrator" / "embeddings"


DEFAULT_CACHE_DIR = default_cache_dir()


def _key(texts: list[str], model_id: str) -> str:
    h = hashlib.sha256(f"{model_id}|view{VIEW_VERSION}|{len(texts)}".encode())
    for t in texts:
        h.update(t.encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()[:24]


def cache_path(prompts: list[str], embedder, cache_dir: str | Path = DEFAULT_CACHE_DIR) -> Path:
    """Where the router embeddings of exactly ``prompts`` (in this order) are cached."""
    return Path(cache_dir) / f"{_key(query_views(prompts), embedder.fingerprint)}.npy"


def cached_embeddings(
    prompts: list[str], embedder, *, cache_dir: str | Path | None = DEFAULT_CACHE_DIR, show_progress: bool = False
) -> np.ndarray:
    """Router embeddings (of :func:`query_view` of each prompt), from the cache when present.

    ``embedder`` is anything with ``encode(list[str]) -> ndarray`` and a ``fingerprint``;
    ``cache_dir=None`` disables the cache.
    """
    views = query_views(prompts)
    if cache_dir is None:
        return embedder.encode(views, show_progress=show_progress)
    path = cache_path(prompts, embedder, cache_dir)
    if path.is_file():
        arr = np.load(path)
        if arr.shape[0] == len(prompts):
            return arr
    arr = np.asarray(embedder.encode(views, show_progress=show_progress), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, arr)
    tmp.replace(path)
    return arr
