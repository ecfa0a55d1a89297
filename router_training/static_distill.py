"""Distil the static embedding tier (:mod:`orchestrator.router.static_tier`) from MiniLM, locally.

1. Every vocabulary token is embedded on its own by MiniLM ([CLS] token [SEP], mean-pooled) —
   one batched pass over 30k three-token inputs.
2. Token weights are smooth inverse frequencies over the training prompts (SIF, a / (a + p)).
3. A ridge map from the pooled static vectors to the prompts' real MiniLM embeddings puts the
   tier in MiniLM's space, so the router trained on MiniLM embeddings runs on it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from orchestrator.router.static_tier import StaticEmbedder
from orchestrator.router.text import query_views
from router_training.embedding_cache import DEFAULT_CACHE_DIR

__all__ = ["distil_static_tier"]

SIF_A = 1e-3
RIDGE_ALPHA = 1.0


def _token_vectors(embedder, batch: int = 2048, progress: Callable[[str], None] | None = None) -> np.ndarray:
    import torch

    model = embedder.model
    tok = model.tokenizer
    vocab = tok.vocab_size
    transformer = model[0].auto_model
    cls, sep = tok.cls_token_id, tok.sep_token_id
    out = np.zeros((vocab, transformer.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, vocab, batch):
            ids = torch.arange(start, min(start + batch, vocab))
            inp = torch.stack([torch.full_like(ids, cls), ids, torch.full_like(ids, sep)], dim=1)
            hidden = transformer(input_ids=inp, attention_mask=torch.ones_like(inp)).last_hidden_state
            out[start : start + len(ids)] = hidden.mean(dim=1).numpy()
            if progress:
                progress(f"static tier: {min(start + batch, vocab)}/{vocab} tokens")
    return out


def _cached_token_vectors(embedder, cache_dir: Path | None, progress) -> np.ndarray:
    """The per-token pass depends only on the model, so it is cached by fingerprint."""
    if cache_dir is None:
        return _token_vectors(embedder, progress=progress)
    path = Path(cache_dir) / f"static_vocab_{embedder.fingerprint[:16]}.npy"
    if path.is_file():
        return np.load(path)
    vectors = _token_vectors(embedder, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def distil_static_tier(
    embedder, prompts: list[str], targets: np.ndarray, progress: Callable[[str], None] | None = None,
    cache_dir: str | Path | None = DEFAULT_CACHE_DIR,
) -> dict[str, np.ndarray]:
    """Build the table from ``prompts`` and their MiniLM router embeddings ``targets``."""
    vectors = _cached_token_vectors(embedder, None if cache_dir is None else Path(cache_dir), progress)
    views = query_views(prompts)
    counts = np.zeros(vectors.shape[0])
    probe = StaticEmbedder({"vectors": vectors, "weights": np.ones(len(vectors)), "W": np.eye(vectors.shape[1]), "b": np.zeros(vectors.shape[1])}, base=embedder)
    for enc in probe.tokenizer.encode_batch(views, add_special_tokens=False):
        np.add.at(counts, enc.ids, 1.0)
    p = counts / max(counts.sum(), 1.0)
    weights = SIF_A / (SIF_A + p)
    probe = StaticEmbedder({"vectors": vectors, "weights": weights, "W": np.eye(vectors.shape[1]), "b": np.zeros(vectors.shape[1])}, base=embedder)
    pooled = probe.pooled(views)
    from sklearn.linear_model import Ridge

    ridge = Ridge(alpha=RIDGE_ALPHA).fit(pooled, targets)
    return {
        "vectors": vectors.astype(np.float16),
        "weights": weights.astype(np.float32),
        "W": ridge.coef_.T.astype(np.float32),
        "b": ridge.intercept_.astype(np.float32),
    }
