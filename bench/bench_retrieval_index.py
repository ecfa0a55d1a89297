"""Vector index speed and recall at 100k chunks: the embedded store vs the alternatives, one run.

    flock /tmp/bench.lock .venv/bin/python bench/bench_retrieval_index.py [--n 100000] [--queries 500]

Vectors are synthetic (384-d, a mixture of 2,000 Gaussian clusters, unit-normalised, so neighbours
are structured like sentence embeddings rather than uniform noise): embedding 100k chunks with
MiniLM on two shared cores would take most of an hour. MiniLM's own throughput is measured
separately on a small set of real 1,000-character chunks.

Columns: build = vectors indexed per second (for ``EmbeddedStore``: SQLite rows written, 10
chunks per document, then the HNSW graph built on the first search); query p50/p99 of single
queries (top 10); recall@10 against exact search.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DIM, K = 384, 10


def synthetic(n: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((2000, DIM)).astype(np.float32)
    def draw(m: int) -> np.ndarray:
        x = centres[rng.integers(0, len(centres), m)] + 0.6 * rng.standard_normal((m, DIM)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    return draw(n), draw(queries)


def timed_queries(search, Q: np.ndarray) -> tuple[np.ndarray, float, float]:
    ids, lat = [], []
    for q in Q:
        t0 = time.perf_counter()
        ids.append(search(q))
        lat.append(time.perf_counter() - t0)
    ms = np.array(lat) * 1000
    return np.array(ids), float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--embed-chunks", type=int, default=128)
    args = ap.parse_args()
    X, Q = synthetic(args.n, args.queries)
    rows: list[tuple[str, float, float, float, float]] = []

    # Exact baseline: brute-force numpy (one matrix-vector product per query).
    Xc = np.ascontiguousarray(X)
    truth, p50, p99 = timed_queries(lambda q: np.argpartition(-(Xc @ q), K)[:K], Q)
    rows.append(("numpy brute force (exact; nothing to build)", float("nan"), p50, p99, 1.0))

    from usearch.index import Index

    t0 = time.perf_counter()
    u = Index(ndim=DIM, metric="cos", dtype="f32", connectivity=16, expansion_add=128, expansion_search=64)
    u.add(np.arange(args.n, dtype=np.uint64), X)
    build = args.n / (time.perf_counter() - t0)
    found, p50, p99 = timed_queries(lambda q: u.search(q, K).keys, Q)
    rows.append(("usearch HNSW (M=16, ef=64)", build, p50, p99, recall(found, truth)))

    try:
        import faiss

        t0 = time.perf_counter()
        f = faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT)
        f.hnsw.efConstruction = 128
        f.add(X)
        f.hnsw.efSearch = 64
        build = args.n / (time.perf_counter() - t0)
        found, p50, p99 = timed_queries(lambda q: f.search(q[None, :], K)[1][0], Q)
        rows.append(("faiss HNSWFlat (M=16, ef=64)", build, p50, p99, recall(found, truth)))
        flat = faiss.IndexFlatIP(DIM)
        t0 = time.perf_counter()
        flat.add(X)
        build = args.n / (time.perf_counter() - t0)
        found, p50, p99 = timed_queries(lambda q: flat.search(q[None, :], K)[1][0], Q)
        rows.append(("faiss FlatIP (exact)", build, p50, p99, recall(found, truth)))
    except ImportError:
        print("faiss-cpu not installed: its rows are skipped")

    # The embedded store end to end: SQLite rows per document, then the graph on first search.
    from orchestrator.retrieval.chunking import Chunk
    from orchestrator.retrieval.embedded import EmbeddedStore

    with tempfile.TemporaryDirectory() as tmp:
        store = EmbeddedStore(Path(tmp) / "bench", DIM)
        t0 = time.perf_counter()
        per_doc = 10
        for d in range(0, args.n, per_doc):
            chunks = [Chunk(f"doc{d}", i, "t", f"chunk {d + i}") for i in range(min(per_doc, args.n - d))]
            store.replace_document(f"doc{d}", f"{d:064x}", chunks, X[d : d + len(chunks)])
        write_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        store.search(Q[0], K)  # builds and saves the HNSW graph
        graph_s = time.perf_counter() - t1
        key_of = {}
        for rowid, source, ordinal in store._db.execute("SELECT id, source, ordinal FROM chunks"):
            key_of[(source, ordinal)] = int(source[3:]) + ordinal
        found, p50, p99 = timed_queries(lambda q: [key_of[(h.source, h.ordinal)] for h in store.search(q, K)], Q)
        rows.append((f"EmbeddedStore (SQLite + usearch; write {write_s:.0f} s, graph {graph_s:.0f} s)", args.n / (write_s + graph_s), p50, p99, recall(found, truth)))
        size_mb = sum(p.stat().st_size for p in (Path(tmp) / "bench").iterdir()) / 1e6
        store.close()

    print(f"\n{args.n:,} synthetic {DIM}-d vectors, {args.queries} queries, top {K}\n")
    print(f"{'index':62s} {'build vec/s':>12s} {'p50 ms':>8s} {'p99 ms':>8s} {'recall@10':>10s}")
    for name, b, p50, p99, r in rows:
        print(f"{name:62s} {b:12,.0f} {p50:8.3f} {p99:8.3f} {r:10.3f}")
    base = rows[0][2]
    print(f"\np50 speed-up over numpy brute force: " + ", ".join(f"{n.split(' (')[0]} {base / p50:.1f}x" for n, _, p50, _, _ in rows[1:]))
    print(f"EmbeddedStore on disk: {size_mb:.0f} MB")

    from orchestrator.embeddings import Embedder

    e = Embedder()
    e.encode(["warm up"])
    rng = np.random.default_rng(1)
    words = "the of and to in is was for on that with as by at from his her an which or be are were this had it not but".split()
    texts = [" ".join(rng.choice(words, 180)) for _ in range(args.embed_chunks)]
    t0 = time.perf_counter()
    e.encode(texts)
    rate = len(texts) / (time.perf_counter() - t0)
    print(f"MiniLM embedding throughput: {rate:.1f} chunks/s ({len(texts)} chunks of ~1,000 characters); 100k chunks would take {args.n / rate / 60:.0f} min")


if __name__ == "__main__":
    main()
