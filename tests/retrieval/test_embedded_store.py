"""The embedded store's graph follows SQLite by its change log: re-ingest and delete touch only the
changed chunks, another process catches up, and a graph the log no longer reaches is rebuilt."""

from __future__ import annotations

import json

import numpy as np

from orchestrator.retrieval import embedded
from orchestrator.retrieval.chunking import Chunk
from orchestrator.retrieval.embedded import EmbeddedStore

DIM = 16


def _doc(rng: np.random.Generator, source: str, n: int = 5) -> tuple[list[Chunk], np.ndarray]:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return [Chunk(source, i, source, f"{source} chunk {i}") for i in range(n)], v / np.linalg.norm(v, axis=1, keepdims=True)


def _fill(store: EmbeddedStore, docs: int, seed: int = 0, start: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = {}
    for d in range(start, start + docs):
        chunks, v = _doc(rng, f"doc{d}")
        store.replace_document(f"doc{d}", f"{d:064x}", chunks, v)
        vectors[f"doc{d}"] = v
    return vectors


def _exact(vectors: dict[str, np.ndarray], q: np.ndarray, k: int = 5) -> list[tuple[str, int]]:
    keys = [(s, i) for s, v in vectors.items() for i in range(len(v))]
    scores = np.concatenate(list(vectors.values())) @ q
    return [keys[i] for i in np.argsort(-scores)[:k]]


def _found(store: EmbeddedStore, q: np.ndarray, k: int = 5) -> list[tuple[str, int]]:
    return [(h.source, h.ordinal) for h in store.search(q, k)]


def _agrees(found: list[tuple[str, int]], exact: list[tuple[str, int]]) -> bool:
    """The graph is approximate (and its multi-threaded build differs run to run): the best hit is
    the exact one and at most one of the rest is a near neighbour the graph missed. A stale graph
    fails this outright: it returns deleted or old chunks, or misses the new ones."""
    return found[0] == exact[0] and len(set(found) & set(exact)) >= len(exact) - 1


def test_reingesting_one_document_updates_the_graph_in_place_and_searches_see_it(tmp_path):
    store = EmbeddedStore(tmp_path / "ix", DIM)
    vectors = _fill(store, 40)
    q = vectors["doc3"][0]
    assert _agrees(_found(store, q), _exact(vectors, q))
    graph = store._graph
    rng = np.random.default_rng(9)
    chunks, v = _doc(rng, "doc3", 3)
    store.replace_document("doc3", "e" * 64, chunks, v)
    vectors["doc3"] = v
    assert store.delete_document("doc7")
    del vectors["doc7"]
    for q in (v[0], vectors["doc5"][1], rng.standard_normal(DIM).astype(np.float32)):
        assert _agrees(_found(store, q), _exact(vectors, q))
        assert all(source != "doc7" for source, _ in _found(store, q, k=20))  # deleted means gone
    assert store._graph is graph  # caught up by the log, not rebuilt
    assert len(graph) == sum(len(x) for x in vectors.values())


def test_another_process_catches_up_and_a_reopened_store_replays_what_the_saved_graph_lacks(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "SAVE_EVERY", 10_000)  # keep the saved graph behind the log
    monkeypatch.setattr(embedded, "SAVE_FRACTION", 1.0)
    writer = EmbeddedStore(tmp_path / "ix", DIM)
    reader = EmbeddedStore(tmp_path / "ix", DIM, create=False)
    vectors = _fill(writer, 30)
    q = vectors["doc0"][0]
    assert _agrees(_found(reader, q), _exact(vectors, q))  # builds and saves the graph
    more = {**vectors, **_fill(writer, 15, seed=1, start=30)}  # 15 new documents
    more.update(_fill(writer, 1, seed=2, start=2))  # doc2 rewritten
    writer.delete_document("doc44")
    del more["doc44"]
    for q in (more["doc40"][0], more["doc2"][3]):
        assert _agrees(_found(reader, q), _exact(more, q))
    stamp = json.loads((tmp_path / "ix" / "vectors.generation").read_text())
    assert stamp["generation"] < writer._generation()  # the saved graph is behind ...
    reopened = EmbeddedStore(tmp_path / "ix", DIM, create=False)
    assert _agrees(_found(reopened, more["doc40"][0]), _exact(more, more["doc40"][0]))  # ... and the log brings it up to date
    assert reopened._graph.expansion_search == 128  # the store's search setting, whatever the file was saved with


def test_a_graph_older_than_the_log_or_full_of_removed_entries_is_rebuilt(tmp_path, monkeypatch):
    store = EmbeddedStore(tmp_path / "ix", DIM)
    vectors = _fill(store, 20)
    store.search(vectors["doc0"][0], 3)
    stale = EmbeddedStore(tmp_path / "ix", DIM, create=False)
    stale.search(vectors["doc0"][0], 3)  # holds the graph at this generation
    monkeypatch.setattr(embedded, "SAVE_EVERY", 1)
    vectors.update(_fill(store, 3, seed=2))  # saved at once: the log before it is pruned
    store.search(vectors["doc1"][0], 3)
    q = vectors["doc2"][4]
    assert _agrees(_found(stale, q), _exact(vectors, q))  # its log is gone: it reloads the saved graph
    # Removing more than a fifth of the entries: the next search rebuilds (no tombstones left).
    for d in range(3, 10):
        store.delete_document(f"doc{d}")
        del vectors[f"doc{d}"]
    assert _agrees(_found(store, q), _exact(vectors, q))
    assert json.loads((tmp_path / "ix" / "vectors.generation").read_text())["removed"] == 0


def test_an_index_written_before_the_change_log_opens_and_stays_correct(tmp_path):
    store = EmbeddedStore(tmp_path / "ix", DIM)
    vectors = _fill(store, 10)
    store.search(vectors["doc0"][0], 3)
    # The previous format: no log, no floor, the stamp a bare generation number.
    store._db.execute("DROP TABLE changes")
    store._db.execute("DELETE FROM meta WHERE key = 'log_floor'")
    (tmp_path / "ix" / "vectors.generation").write_text(str(store._generation()))
    store.close()
    old = EmbeddedStore(tmp_path / "ix", DIM, create=False)
    q = vectors["doc4"][2]
    assert _agrees(_found(old, q), _exact(vectors, q))
    chunks, v = _doc(np.random.default_rng(5), "doc4")
    old.replace_document("doc4", "d" * 64, chunks, v)
    vectors["doc4"] = v
    assert _agrees(_found(old, v[2]), _exact(vectors, v[2]))
