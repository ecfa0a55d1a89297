"""The default store: one folder per index, no server.

SQLite holds the truth (documents, chunk text, vectors) and makes each document's replacement one
transaction; a usearch HNSW graph beside it serves the searches. The graph is derived data: it
carries the SQLite generation it was built at and is rebuilt from SQLite when they disagree (a
crash between the two writes, or another process — the CLI — changed the index under a running
gateway).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import numpy as np

from orchestrator.retrieval.chunking import Chunk
from orchestrator.retrieval.errors import StoreUnavailable
from orchestrator.retrieval.store import Hit

__all__ = ["EmbeddedStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (source TEXT PRIMARY KEY, sha256 TEXT NOT NULL, chunks INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, ordinal INTEGER NOT NULL,
    title TEXT NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
"""


class EmbeddedStore:
    """An on-disk index in ``folder`` (``chunks.sqlite`` + ``vectors.usearch``).

    Parameters
    ----------
    folder : the index's folder (created when ``create``).
    dim : vector dimension; checked against the one the index was built with.
    connectivity, expansion_add, expansion_search : HNSW parameters (usearch's names).
    """

    def __init__(self, folder: str | Path, dim: int, *, create: bool = True, connectivity: int = 16, expansion_add: int = 128, expansion_search: int = 64):
        self.folder = Path(folder)
        self.dim = dim
        self._hnsw_params = {"connectivity": connectivity, "expansion_add": expansion_add, "expansion_search": expansion_search}
        self._lock = threading.RLock()
        db = self.folder / "chunks.sqlite"
        if not create and not db.exists():
            raise FileNotFoundError(db)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            stored = self._meta("dim")
            if stored is None:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('dim', ?)", (str(dim),))
            elif int(stored) != dim:
                raise StoreUnavailable(f"{self.folder}: index has {stored}-d vectors, the embedder makes {dim}-d")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.folder}: {exc}") from exc
        self._graph = None
        self._graph_gen = -1
        self._centroid: tuple[int, np.ndarray | None] | None = None

    # ------------------------------------------------------------------ bookkeeping

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _generation(self) -> int:
        return int(self._meta("generation") or 0)

    def _sql(self, fn):  # type: ignore[no-untyped-def]
        try:
            with self._lock:
                return fn()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.folder}: {exc}") from exc

    # ------------------------------------------------------------------ writes

    def documents(self) -> dict[str, str]:
        return self._sql(lambda: dict(self._db.execute("SELECT source, sha256 FROM documents").fetchall()))

    def replace_document(self, source: str, sha256: str, chunks: list[Chunk], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(chunks), self.dim):
            raise ValueError(f"{len(chunks)} chunks but vectors of shape {vectors.shape}")

        def write() -> None:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM chunks WHERE source = ?", (source,))
                db.executemany(
                    "INSERT INTO chunks (source, ordinal, title, text, vector) VALUES (?, ?, ?, ?, ?)",
                    [(source, c.ordinal, c.title, c.text, v.tobytes()) for c, v in zip(chunks, vectors)],
                )
                db.execute("INSERT OR REPLACE INTO documents VALUES (?, ?, ?)", (source, sha256, len(chunks)))
                self._bump(db)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        self._sql(write)

    def delete_document(self, source: str) -> bool:
        def write() -> bool:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                gone = db.execute("DELETE FROM documents WHERE source = ?", (source,)).rowcount
                db.execute("DELETE FROM chunks WHERE source = ?", (source,))
                self._bump(db)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return bool(gone)

        return self._sql(write)

    @staticmethod
    def _bump(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    # ------------------------------------------------------------------ reads

    def count(self) -> int:
        return self._sql(lambda: self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def _graph_path(self) -> Path:
        return self.folder / "vectors.usearch"

    def _load_graph(self, generation: int):  # type: ignore[no-untyped-def]
        """The HNSW graph at ``generation``: from disk when it matches, else rebuilt from SQLite and saved."""
        from usearch.index import Index

        path, stamp = self._graph_path(), self.folder / "vectors.generation"
        if path.exists() and stamp.exists() and stamp.read_text().strip() == str(generation):
            graph = Index.restore(str(path))
            if graph is not None:
                return graph
        graph = Index(ndim=self.dim, metric="cos", dtype="f32", **self._hnsw_params)
        rows = self._db.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
        if rows:
            keys = np.fromiter((r[0] for r in rows), dtype=np.uint64, count=len(rows))
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), self.dim)
            graph.add(keys, vecs)
        # Write-then-rename: a reader never sees half a file.
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        graph.save(str(tmp))
        os.replace(tmp, path)
        stamp_tmp = stamp.with_suffix(f".tmp{os.getpid()}")
        stamp_tmp.write_text(str(generation))
        os.replace(stamp_tmp, stamp)
        return graph

    def _current_graph(self):  # type: ignore[no-untyped-def]
        generation = self._generation()
        if self._graph is None or self._graph_gen != generation:
            self._graph = self._load_graph(generation)
            self._graph_gen = generation
        return self._graph

    def search(self, vector: np.ndarray, k: int) -> list[Hit]:
        def run() -> list[Hit]:
            graph = self._current_graph()
            if len(graph) == 0:
                return []
            found = graph.search(np.asarray(vector, dtype=np.float32).reshape(-1), min(k, len(graph)))
            keys = [int(x) for x in found.keys]
            dist = {int(x): float(d) for x, d in zip(found.keys, found.distances)}
            marks = ",".join("?" * len(keys))
            rows = self._db.execute(f"SELECT id, source, ordinal, title, text FROM chunks WHERE id IN ({marks})", keys).fetchall()
            hits = [Hit(src, ordinal, title, text, 1.0 - dist[i]) for i, src, ordinal, title, text in rows]
            return sorted(hits, key=lambda h: -h.score)

        return self._sql(run)

    def centroid(self) -> np.ndarray | None:
        def run() -> np.ndarray | None:
            generation = self._generation()
            if self._centroid is None or self._centroid[0] != generation:
                total = np.zeros(self.dim, dtype=np.float64)
                for (blob,) in self._db.execute("SELECT vector FROM chunks"):
                    total += np.frombuffer(blob, dtype=np.float32)
                norm = float(np.linalg.norm(total))
                self._centroid = (generation, (total / norm).astype(np.float32) if norm > 0 else None)
            return self._centroid[1]

        return self._sql(run)

    def close(self) -> None:
        with self._lock:
            self._db.close()
