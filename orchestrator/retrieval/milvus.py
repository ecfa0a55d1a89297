"""The scale-out store: one Milvus collection per index, through pymilvus.

The same code talks to Milvus Lite (``uri`` is a local ``.db`` file; pymilvus starts the embedded
engine) and to a Milvus server or cluster (``uri`` is ``http://host:19530``). Milvus has no
multi-row transactions, so a document is replaced insert-first: its new chunks go in, then the old
ones are deleted by id; a failure in between leaves the old chunks searchable (and extra new
ones that the next ingest replaces), never nothing.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np

from orchestrator.retrieval.chunking import Chunk
from orchestrator.retrieval.errors import StoreUnavailable
from orchestrator.retrieval.store import Hit

__all__ = ["MilvusStore", "milvus_client"]

_TEXT_MAX = 65_535
_PAGE = 16_384  # Milvus's own cap on one query's limit
_CLIENTS: dict[tuple[str, str | None], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def milvus_client(uri: str, token: str | None = None, timeout: float = 5.0) -> Any:
    """One client per (uri, token) per process: Milvus Lite allows a single opener of its file."""
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    key = (uri, token)
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            try:
                _CLIENTS[key] = MilvusClient(uri=uri, token=token or "", timeout=timeout)
            except (MilvusException, OSError, RuntimeError, ValueError) as exc:
                raise StoreUnavailable(f"Milvus at {uri}: {exc}") from exc
        return _CLIENTS[key]


def _literal(value: str) -> str:
    """A Milvus filter string literal (JSON's escaping is what its parser accepts)."""
    return json.dumps(value)


class MilvusStore:
    """Chunks of one index in the collection ``collection``."""

    def __init__(self, uri: str, collection: str, dim: int, *, token: str | None = None, create: bool = True, timeout: float = 5.0):
        from pymilvus.exceptions import MilvusException

        self._errors: tuple[type[BaseException], ...] = (MilvusException, OSError, RuntimeError)
        self.uri, self.collection, self.dim = uri, collection, dim
        self.client = milvus_client(uri, token, timeout)
        self._centroid: tuple[int, np.ndarray | None] | None = None
        exists = self._call(self.client.has_collection, collection)
        if not exists:
            if not create:
                raise FileNotFoundError(collection)
            self._call(self._create)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            raise StoreUnavailable(f"Milvus at {self.uri} ({self.collection}): {exc}") from exc

    def _create(self) -> None:
        from pymilvus import DataType

        c = self.client
        schema = c.create_schema(auto_id=True)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("source", DataType.VARCHAR, max_length=2048)
        schema.add_field("sha256", DataType.VARCHAR, max_length=64)
        schema.add_field("ordinal", DataType.INT64)
        schema.add_field("title", DataType.VARCHAR, max_length=2048)
        schema.add_field("text", DataType.VARCHAR, max_length=_TEXT_MAX)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        index = c.prepare_index_params()
        # AUTOINDEX: Milvus picks (HNSW on a server, FLAT/IVF on Lite); inner product = cosine on unit vectors.
        index.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
        c.create_collection(self.collection, schema=schema, index_params=index, consistency_level="Strong")

    def _query_all(self, filter: str, fields: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self._call(self.client.query, self.collection, filter=filter, output_fields=fields, limit=_PAGE, offset=offset)
            out.extend(page)
            if len(page) < _PAGE:
                return out
            offset += _PAGE

    def documents(self) -> dict[str, str]:
        return {r["source"]: r["sha256"] for r in self._query_all("ordinal == 0", ["source", "sha256"])}

    def replace_document(self, source: str, sha256: str, chunks: list[Chunk], vectors: np.ndarray) -> None:
        old = [r["id"] for r in self._query_all(f"source == {_literal(source)}", ["id"])]
        rows = [
            {"source": source, "sha256": sha256, "ordinal": c.ordinal, "title": c.title[:2000], "text": c.text[:_TEXT_MAX // 4], "vector": v.tolist()}
            for c, v in zip(chunks, np.asarray(vectors, dtype=np.float32))
        ]
        if rows:
            self._call(self.client.insert, self.collection, rows)
        if old:
            self._call(self.client.delete, self.collection, filter=f"id in {json.dumps(old)}")
        self._centroid = None

    def delete_document(self, source: str) -> bool:
        old = [r["id"] for r in self._query_all(f"source == {_literal(source)}", ["id"])]
        if old:
            self._call(self.client.delete, self.collection, filter=f"id in {json.dumps(old)}")
        self._centroid = None
        return bool(old)

    def count(self) -> int:
        rows = self._call(self.client.query, self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def search(self, vector: np.ndarray, k: int) -> list[Hit]:
        found = self._call(
            self.client.search, self.collection, data=[np.asarray(vector, dtype=np.float32).reshape(-1).tolist()],
            limit=k, output_fields=["source", "ordinal", "title", "text"], search_params={"metric_type": "IP"},
        )
        hits = []
        for r in found[0] if found else []:
            e = r["entity"]
            hits.append(Hit(e["source"], int(e["ordinal"]), e["title"], e["text"], float(r["distance"])))
        return hits

    def centroid(self) -> np.ndarray | None:
        n = self.count()
        if self._centroid is None or self._centroid[0] != n:
            total = np.zeros(self.dim, dtype=np.float64)
            for r in self._query_all("ordinal >= 0", ["vector"]):
                total += np.asarray(r["vector"], dtype=np.float64)
            norm = float(np.linalg.norm(total))
            self._centroid = (n, (total / norm).astype(np.float32) if norm > 0 else None)
        return self._centroid[1]

    def close(self) -> None:
        """The client is shared per process (see :func:`milvus_client`); nothing to release per store."""
