"""A named index: documents in, chunks embedded and stored, queries out.

:func:`open_index` picks the store experts.yaml's ``retrieval:`` section names (the embedded
default or Milvus); everything above it is the same code for both.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.retrieval.chunking import chunk_text
from orchestrator.retrieval.documents import Document, discover, read_document
from orchestrator.retrieval.errors import DocumentError, IndexNotFound, RetrievalError, StoreUnavailable
from orchestrator.retrieval.store import Hit, VectorStore

__all__ = ["IngestReport", "RetrievalIndex", "index_names", "open_index"]

_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) of each document that was skipped."""
    chunks: int = 0
    """Chunks written by this run."""


class RetrievalIndex:
    """One index: ``ingest`` files, ``add`` documents, ``search`` text.

    ``embed`` maps a list of texts to unit-norm float32 rows (``Embedder.encode``).
    """

    def __init__(self, name: str, store: VectorStore, embed: Callable[[list[str]], np.ndarray], *, chunk_chars: int = 1000, chunk_overlap: int = 200):
        self.name = name
        self.store = store
        self.embed = embed
        self.chunk_chars = chunk_chars
        self.chunk_overlap = chunk_overlap

    def add(self, documents: Iterable[Document], report: IngestReport | None = None, *, known: dict[str, str] | None = None) -> IngestReport:
        """Index documents, skipping those whose content hash is already indexed."""
        report = report or IngestReport()
        known = self.store.documents() if known is None else known
        for doc in documents:
            if known.get(doc.source) == doc.sha256:
                report.unchanged.append(doc.source)
                continue
            chunks = chunk_text(doc.text, source=doc.source, title=doc.title, size=self.chunk_chars, overlap=self.chunk_overlap)
            vectors = self.embed([f"{c.title}\n{c.text}" if c.title else c.text for c in chunks])
            self.store.replace_document(doc.source, doc.sha256, chunks, vectors)
            (report.updated if doc.source in known else report.added).append(doc.source)
            known[doc.source] = doc.sha256
            report.chunks += len(chunks)
        return report

    def ingest(self, paths: Iterable[str | Path]) -> IngestReport:
        """Read and index files (folders recursively). A bad file is reported and skipped;
        a store failure stops the run, with every document written before it kept."""
        report = IngestReport()
        known = self.store.documents()
        for path in discover(paths):
            try:
                doc = read_document(path)
            except DocumentError as exc:
                report.failed.append((exc.path, exc.reason))
                continue
            self.add([doc], report, known=known)
        return report

    def delete(self, sources: Iterable[str | Path]) -> IngestReport:
        report = IngestReport()
        for given in sources:
            source = str(Path(given).resolve()) if isinstance(given, Path) else given
            if self.store.delete_document(source):
                report.deleted.append(str(source))
            else:
                report.failed.append((str(source), "not in the index"))
        return report

    def search(self, query: str, k: int = 5) -> list[Hit]:
        return self.search_vector(self.embed([query])[0], k)

    def search_vector(self, vector: np.ndarray, k: int = 5) -> list[Hit]:
        return self.store.search(vector, k)

    def centroid(self) -> np.ndarray | None:
        return self.store.centroid()


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise RetrievalError(f"index name {name!r}: use 1-64 letters, digits or underscores")
    return name


def _root(settings: Any, base: Path | None) -> Path:
    p = Path(settings.path)
    return p if p.is_absolute() or base is None else base / p


def _milvus_uri(settings: Any, base: Path | None) -> str:
    uri = settings.milvus.uri
    if "://" in uri or Path(uri).is_absolute() or base is None:
        return uri
    return str(base / uri)


def open_store(settings: Any, name: str, dim: int, *, base: Path | None = None, create: bool = False) -> VectorStore:
    """The store of index ``name`` per ``settings`` (a ``RetrievalSettings``); paths are relative to ``base``."""
    _check_name(name)
    try:
        if settings.store == "milvus":
            from orchestrator.retrieval.milvus import MilvusStore

            uri = _milvus_uri(settings, base)
            if "://" not in uri:
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            token = os.environ.get(settings.milvus.token_env) if settings.milvus.token_env else None
            return MilvusStore(uri, settings.milvus.collection_prefix + name, dim, token=token, create=create, timeout=settings.milvus.timeout_s)
        from orchestrator.retrieval.embedded import EmbeddedStore

        return EmbeddedStore(_root(settings, base) / name, dim, create=create)
    except FileNotFoundError:
        where = settings.milvus.uri if settings.store == "milvus" else str(_root(settings, base))
        raise IndexNotFound(name, where) from None


def index_names(settings: Any, *, base: Path | None = None) -> list[str]:
    """Every index the configured store holds."""
    if settings.store == "milvus":
        from orchestrator.retrieval.milvus import milvus_client

        client = milvus_client(_milvus_uri(settings, base), None, settings.milvus.timeout_s)
        prefix = settings.milvus.collection_prefix
        try:
            return sorted(c[len(prefix):] for c in client.list_collections() if c.startswith(prefix))
        except Exception as exc:  # noqa: BLE001 - any client failure means the store is down
            raise StoreUnavailable(f"Milvus at {settings.milvus.uri}: {exc}") from exc
    root = _root(settings, base)
    return sorted(p.name for p in root.iterdir() if (p / "chunks.sqlite").exists()) if root.is_dir() else []


def open_index(settings: Any, name: str, embedder: Any, *, base: Path | None = None, create: bool = False) -> RetrievalIndex:
    store = open_store(settings, name, embedder.dim, base=base, create=create)
    return RetrievalIndex(name, store, embedder.encode, chunk_chars=settings.chunk_chars, chunk_overlap=settings.chunk_overlap)
