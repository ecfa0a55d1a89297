"""The default store: one folder per index, no server.

SQLite holds the truth (documents, chunk text, vectors) and makes each document's replacement one
transaction; a usearch HNSW graph beside it serves the searches. The graph is derived data: it
carries the SQLite generation it reflects. Each write also logs, in the same transaction, which
chunk ids it removed and added, so a graph behind SQLite (another process — the CLI — changed the
index under a running gateway, or a crash came between the two writes) catches up by replaying
the log: re-ingesting one document into a 100k-chunk index touches its chunks, not the graph.
The graph is rebuilt from SQLite only when the log no longer reaches back to it, or when so
many of its entries were removed that search quality would suffer.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from contextlib import contextmanager
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
CREATE TABLE IF NOT EXISTS changes (generation INTEGER NOT NULL, chunk_id INTEGER NOT NULL, added INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS changes_generation ON changes(generation);
"""

REBUILD_REMOVED_FRACTION = 0.2
"""Rebuild the graph once this share of its entries has been removed since it was built (HNSW
search degrades around removed nodes)."""
SAVE_EVERY, SAVE_FRACTION = 1000, 0.05
"""Save a caught-up graph (and prune the log) once this many changes, or this share of the index if
fewer, were replayed since the saved one: a large index is not rewritten for every small edit."""
THREADED_ADD_MIN = 10_000
"""Below this many vectors per add, usearch inserts on one thread: concurrent inserts into a small
graph leave vectors that no search reaches (random unit vectors, 16 dims: a vector's own query
missed it 4 times in 1,000 at 50 vectors and 21 in 6,000 at 300, never single-threaded), and
the parallel add saves milliseconds there. Above it the parallel add is kept for its speed (5,000
vectors: 0.66 s vs 1.17 s on 2 cores), with the same race at a lower rate (15 in 15,000)."""


class EmbeddedStore:
    """An on-disk index in ``folder`` (``chunks.sqlite`` + ``vectors.usearch``).

    Parameters
    ----------
    folder : the index's folder (created when ``create``).
    dim : vector dimension; checked against the one the index was built with.
    connectivity, expansion_add, expansion_search : HNSW parameters (usearch's names). At 100k
        chunks ef_search 128 finds 97% of the exact top 10 (64: 93%) at ~1.2 ms a query
        (bench/bench_retrieval_index.py).
    """

    def __init__(self, folder: str | Path, dim: int, *, create: bool = True, connectivity: int = 16, expansion_add: int = 128, expansion_search: int = 128):
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
            # The log is complete from this generation on (an index written before the log existed starts it now).
            self._db.execute("INSERT OR IGNORE INTO meta SELECT 'log_floor', COALESCE((SELECT value FROM meta WHERE key = 'generation'), '0')")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.folder}: {exc}") from exc
        self._graph = None
        self._graph_gen = -1
        self._removed = 0  # entries removed from the in-memory graph since it was built
        self._saved_gen = -1
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
                removed = self._chunk_ids(db, source)
                db.execute("DELETE FROM chunks WHERE source = ?", (source,))
                db.executemany(
                    "INSERT INTO chunks (source, ordinal, title, text, vector) VALUES (?, ?, ?, ?, ?)",
                    [(source, c.ordinal, c.title, c.text, v.tobytes()) for c, v in zip(chunks, vectors)],
                )
                db.execute("INSERT OR REPLACE INTO documents VALUES (?, ?, ?)", (source, sha256, len(chunks)))
                self._bump(db, removed, self._chunk_ids(db, source))
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
                removed = self._chunk_ids(db, source)
                db.execute("DELETE FROM chunks WHERE source = ?", (source,))
                self._bump(db, removed, [])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return bool(gone)

        return self._sql(write)

    @staticmethod
    def _chunk_ids(db: sqlite3.Connection, source: str) -> list[int]:
        return [r[0] for r in db.execute("SELECT id FROM chunks WHERE source = ?", (source,))]

    @staticmethod
    def _bump(db: sqlite3.Connection, removed: list[int], added: list[int]) -> None:
        """Next generation, with the chunk ids this write removed and added (the graph's replay log)."""
        db.execute("INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
        gen = int(db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
        db.executemany("INSERT INTO changes VALUES (?, ?, ?)", [(gen, i, 0) for i in removed] + [(gen, i, 1) for i in added])

    # ------------------------------------------------------------------ reads

    def count(self) -> int:
        return self._sql(lambda: self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def _graph_path(self) -> Path:
        return self.folder / "vectors.usearch"

    @contextmanager
    def _file_lock(self):  # type: ignore[no-untyped-def]
        """Serialises the graph file and its stamp across processes (the CLI and a gateway)."""
        with open(self.folder / "vectors.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _new_graph(self):  # type: ignore[no-untyped-def]
        from usearch.index import Index

        return Index(ndim=self.dim, metric="cos", dtype="f32", **self._hnsw_params)

    def _vectors(self, ids: list[int] | None) -> tuple[np.ndarray, np.ndarray]:
        """(keys, vectors) of the chunks with ``ids`` that still exist (all chunks when None)."""
        if ids is None:
            rows = self._db.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
        else:
            rows = []
            for i in range(0, len(ids), 500):
                part = ids[i : i + 500]
                rows += self._db.execute(f"SELECT id, vector FROM chunks WHERE id IN ({','.join('?' * len(part))})", part).fetchall()
        keys = np.fromiter((r[0] for r in rows), dtype=np.uint64, count=len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), self.dim)
        return keys, vecs

    def _replay(self, graph, since: int, upto: int) -> int:  # type: ignore[no-untyped-def]
        """Bring ``graph`` from generation ``since`` to ``upto`` by the change log; returns how many
        entries it removed.

        Idempotent: every logged id is removed first, then the added ones that still exist are
        added, so replaying over a graph that already holds some of the changes is harmless."""
        rows = self._db.execute("SELECT chunk_id, added FROM changes WHERE generation > ? AND generation <= ?", (since, upto)).fetchall()
        touched = sorted({r[0] for r in rows})
        removed = int(graph.remove(np.asarray(touched, dtype=np.uint64))) if touched else 0
        keys, vecs = self._vectors(sorted({r[0] for r in rows if r[1]}))
        if len(keys):
            _add(graph, keys, vecs)
        return removed  # each removal leaves a tombstone in the graph, re-added or not

    def _save(self, graph, generation: int, removed: int) -> None:  # type: ignore[no-untyped-def]
        """Write graph and stamp (write-then-rename: a reader never sees half a file), then prune the
        log the saved graph no longer needs. Caller holds the file lock."""
        path, stamp = self._graph_path(), self.folder / "vectors.generation"
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        graph.save(str(tmp))
        os.replace(tmp, path)
        stamp_tmp = stamp.with_suffix(f".tmp{os.getpid()}")
        stamp_tmp.write_text(json.dumps({"generation": generation, "removed": removed}))
        os.replace(stamp_tmp, stamp)
        self._saved_gen = generation
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("DELETE FROM changes WHERE generation <= ?", (generation,))
            self._db.execute("UPDATE meta SET value = MAX(CAST(value AS INTEGER), ?) WHERE key = 'log_floor'", (generation,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _read_stamp(self) -> tuple[int, int] | None:
        try:
            raw = (self.folder / "vectors.generation").read_text().strip()
            data = json.loads(raw)
            return (int(data["generation"]), int(data["removed"])) if isinstance(data, dict) else (int(data), 0)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _current_graph(self):  # type: ignore[no-untyped-def]
        """The HNSW graph at SQLite's generation: the in-memory one or the saved one brought up to
        date by the log when it reaches back to them, else rebuilt from SQLite (and saved)."""
        generation = self._generation()
        if self._graph is not None and self._graph_gen == generation:
            return self._graph
        with self._file_lock():
            floor = int(self._meta("log_floor") or 0)  # read under the lock: a saving process prunes the log under it
            graph, since, removed = None, -1, 0
            if self._graph is not None and floor <= self._graph_gen <= generation:
                graph, since, removed = self._graph, self._graph_gen, self._removed
            else:
                stamp = self._read_stamp()
                if stamp is not None and floor <= stamp[0] <= generation and self._graph_path().exists():
                    from usearch.index import Index

                    graph = Index.restore(str(self._graph_path()))  # None: unreadable, rebuilt below
                    if graph is not None:
                        graph.expansion_search = self._hnsw_params["expansion_search"]  # a search setting, not the file's
                        since, removed = stamp
                        self._saved_gen = stamp[0]
            if graph is not None:
                removed += self._replay(graph, since, generation)
                if removed > REBUILD_REMOVED_FRACTION * max(len(graph), 1):
                    graph = None
            if graph is None:
                graph, removed = self._new_graph(), 0
                keys, vecs = self._vectors(None)
                if len(keys):
                    _add(graph, keys, vecs)
                self._save(graph, generation, removed)
            elif generation - self._saved_gen > 0:
                pending = self._db.execute("SELECT COUNT(*) FROM changes WHERE generation > ?", (max(self._saved_gen, floor),)).fetchone()[0]
                if pending >= min(SAVE_EVERY, max(1, int(SAVE_FRACTION * len(graph)))):
                    self._save(graph, generation, removed)
        self._graph, self._graph_gen, self._removed = graph, generation, removed
        return graph

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


def _add(graph, keys: np.ndarray, vecs: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    graph.add(keys, vecs, threads=1 if len(keys) < THREADED_ADD_MIN else 0)
