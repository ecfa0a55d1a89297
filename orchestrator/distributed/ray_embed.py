"""``orchestrator eval --ray``: the prompt embeddings (the part of an evaluation that grows with
rows and needs a model) computed on Ray Data actors, one MiniLM per actor, rows in shards.

Scoring the policies afterwards is vectorised numpy over the recorded outcomes on the driver;
the report is the local run's (the same model embeds the same text; see the test for the check).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from orchestrator.distributed.ray_batch import connect

__all__ = ["RayEmbedder"]


class _EmbedShard:
    """One Ray Data actor: loads the embedding model once, embeds every shard it is given."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.embedder = factory()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {"order": batch["order"], "vector": self.embedder.encode([str(t) for t in batch["text"]])}


class RayEmbedder:
    """Drop-in for :class:`~orchestrator.embeddings.Embedder`: ``encode`` runs on the cluster,
    every other attribute (name, fingerprint, dim) is the local embedder's."""

    def __init__(self, address: str, *, factory: Callable[[], Any] | None = None, shard_rows: int = 512, actors: int | None = None):
        """``factory`` builds the embedder on each actor (and here); default: the packaged MiniLM."""
        if factory is None:
            from orchestrator.embeddings import Embedder

            factory = Embedder
        self.address = address
        self.factory = factory
        self.shard_rows = shard_rows
        self.actors = actors
        self._local = factory()

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        if len(texts) <= 1:
            return self._local.encode(texts)  # one query: no cluster round trip
        ray = connect(self.address)
        from ray import data as ray_data

        shards = max(1, -(-len(texts) // self.shard_rows))
        actors = self.actors or max(1, min(shards, int(ray.cluster_resources().get("CPU", 1))))
        ds = ray_data.from_items([{"order": i, "text": t} for i, t in enumerate(texts)], override_num_blocks=shards).map_batches(
            _EmbedShard, fn_constructor_kwargs={"factory": self.factory}, batch_size=None, batch_format="numpy", concurrency=actors
        )
        out = np.empty((len(texts), self._local.dim), dtype=np.float32)
        for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
            out[np.asarray(batch["order"], dtype=np.int64)] = np.asarray(batch["vector"], dtype=np.float32)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._local, name)
