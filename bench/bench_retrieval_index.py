"""Vector index speed and recall at 100k real text chunks: the embedded store's library vs the others, one run.

    flock /tmp/bench.lock .venv/bin/python bench/bench_retrieval_index.py [--n 100000] [--queries 500]

Corpus: every distinct text in the shared data (HotpotQA/2Wiki passages, the routing files' prompts,
the category texts) cut by the ingest chunker (``chunk_text``, 256 characters, 64 overlap: 102k distinct
real chunks), shuffled, the first ``--n`` kept. Queries: questions of the retrieval file (not in the
corpus). Vectors: embedding 100k chunks with full MiniLM on two shared cores would take most of an
hour, so MiniLM embeds ``--minilm`` chunks (its throughput is reported) and the repo's static
tier (``orchestrator/router/static_tier.py``: MiniLM token vectors, SIF weights, a ridge map into
MiniLM's space fitted on those chunks) embeds all of them, so the vectors are MiniLM-like, not noise.

Every library indexes the same unit vectors by cosine / inner product, HNSW at the same
parameters (M=16, ef_construction=128), builds with 2 threads and answers single queries on one;
recall@10 is against numpy's exact top 10, at ef_search 32 / 64 / 128. ``EmbeddedStore`` is the
store end to end (SQLite rows, the graph, then one document re-ingested and one deleted, each
followed by a search, which brings the graph up to date; then the index reopened and searched).
hnswlib's row appears when it is importable (it has no wheel for this Python: the run that
produced docs/benchmarks.md built it into a side folder on PYTHONPATH, not into the project).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestrator.retrieval.chunking import Chunk, chunk_text
from orchestrator.retrieval.embedded import EmbeddedStore

K, M, EF_ADD, EFS = 10, 16, 128, (32, 64, 128)
BUILD_THREADS = 2
STORE = "EmbeddedStore (SQLite + usearch, its default ef)"


# ---------------------------------------------------------------------------- corpus and vectors

def real_chunks(data: Path, n: int, queries: int, seed: int = 0) -> tuple[list[str], list[str]]:
    texts: set[str] = set()
    questions: list[str] = []
    for line in (data / "retrieval" / "adaptive_rag_llama8b.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        questions.append(row["question"])
        for p in row.get("passages") or []:
            texts.add(f"{p['title']}. {p['text']}")
    for f in sorted(glob.glob(str(data / "routing" / "*.jsonl"))):
        with open(f, encoding="utf-8") as fh:
            texts.update(json.loads(line)["prompt"] for line in fh)
    texts.update(json.loads(line)["text"] for line in (data / "categories.jsonl").open(encoding="utf-8"))
    texts -= set(questions)
    chunks = sorted({c.text for t in sorted(texts) for c in chunk_text(t, size=256, overlap=64)})
    rng = np.random.default_rng(seed)
    if len(chunks) < n:
        raise SystemExit(f"only {len(chunks):,} distinct chunks in {data}; ask for --n <= that")
    picked = [chunks[i] for i in rng.permutation(len(chunks))[:n]]
    qs = sorted(set(questions))
    return picked, [qs[i] for i in rng.permutation(len(qs))[:queries]]


def embed(chunks: list[str], queries: list[str], minilm: int) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Static-tier vectors for everything; MiniLM on the first ``minilm`` chunks (and their rates)."""
    from orchestrator.embeddings import Embedder
    from orchestrator.router.static_tier import StaticEmbedder
    from router_training.static_distill import distil_static_tier

    e = Embedder()
    e.encode(["warm up"])
    sample = chunks[:minilm]
    t0 = time.perf_counter()
    targets = e.encode(sample)
    minilm_rate = len(sample) / (time.perf_counter() - t0)
    static = StaticEmbedder(distil_static_tier(e, sample, targets), base=e)
    t0 = time.perf_counter()
    X = np.concatenate([static.encode(chunks[i : i + 4096]) for i in range(0, len(chunks), 4096)])
    static_rate = len(chunks) / (time.perf_counter() - t0)
    Q = static.encode(queries)
    # How MiniLM-like the static vectors are: cosine to MiniLM's own on chunks the ridge never saw.
    held = chunks[minilm : minilm + 200]
    agree = float(np.mean(np.sum(static.encode(held) * e.encode(held), axis=1)))
    return np.ascontiguousarray(X, dtype=np.float32), np.ascontiguousarray(Q, dtype=np.float32), {
        "minilm_chunks_per_s": minilm_rate, "static_chunks_per_s": static_rate, "static_minilm_cosine": agree,
        "chunk_chars": float(np.mean([len(c) for c in chunks])),
    }


# ---------------------------------------------------------------------------- libraries

class Lib:
    """One library behind the same five calls (build, set_ef, search, save, load)."""

    name: str

    def build(self, X: np.ndarray) -> None: ...
    def set_ef(self, ef: int) -> None: ...
    def search(self, q: np.ndarray) -> np.ndarray: ...
    def save(self, path: str) -> None: ...
    def load(self, path: str) -> None: ...


class Usearch(Lib):
    name = "usearch HNSW"

    def build(self, X):
        from usearch.index import Index

        self.ix = Index(ndim=X.shape[1], metric="cos", dtype="f32", connectivity=M, expansion_add=EF_ADD)
        self.ix.add(np.arange(len(X), dtype=np.uint64), X, threads=BUILD_THREADS)

    def set_ef(self, ef):
        self.ix.expansion_search = ef

    def search(self, q):
        return self.ix.search(q, K, threads=1).keys

    def save(self, path):
        self.ix.save(path)

    def load(self, path):
        from usearch.index import Index

        self.ix = Index.restore(path)


class FaissHNSW(Lib):
    name = "faiss HNSWFlat"

    def build(self, X):
        import faiss

        faiss.omp_set_num_threads(BUILD_THREADS)
        self.ix = faiss.IndexHNSWFlat(X.shape[1], M, faiss.METRIC_INNER_PRODUCT)
        self.ix.hnsw.efConstruction = EF_ADD
        self.ix.add(X)
        faiss.omp_set_num_threads(1)

    def set_ef(self, ef):
        self.ix.hnsw.efSearch = ef

    def search(self, q):
        return self.ix.search(q[None, :], K)[1][0]

    def save(self, path):
        import faiss

        faiss.write_index(self.ix, path)

    def load(self, path):
        import faiss

        self.ix = faiss.read_index(path)


class FaissFlat(FaissHNSW):
    name = "faiss FlatIP (exact)"

    def build(self, X):
        import faiss

        self.ix = faiss.IndexFlatIP(X.shape[1])
        self.ix.add(X)

    def set_ef(self, ef):
        pass


class Hnswlib(Lib):
    name = "hnswlib"

    def build(self, X):
        import hnswlib

        self.dim, self.n = X.shape[1], len(X)
        self.ix = hnswlib.Index(space="ip", dim=self.dim)
        self.ix.init_index(max_elements=self.n, M=M, ef_construction=EF_ADD)
        self.ix.add_items(X, np.arange(self.n), num_threads=BUILD_THREADS)
        self.ix.set_num_threads(1)

    def set_ef(self, ef):
        self.ix.set_ef(ef)

    def search(self, q):
        return self.ix.knn_query(q, k=K)[0][0]

    def save(self, path):
        self.ix.save_index(path)

    def load(self, path):
        import hnswlib

        self.ix = hnswlib.Index(space="ip", dim=self.dim)
        self.ix.load_index(path, max_elements=self.n)
        self.ix.set_num_threads(1)


def available() -> list[Lib]:
    libs: list[Lib] = [Usearch()]
    for mod, cls in (("faiss", FaissHNSW), ("faiss", FaissFlat), ("hnswlib", Hnswlib)):
        try:
            __import__(mod)
            libs.append(cls())
        except ImportError:
            print(f"{mod} not importable: its row is skipped")
    return libs


# ---------------------------------------------------------------------------- measuring

def timed_queries(search: Callable[[np.ndarray], object], Q: np.ndarray) -> tuple[list[list[int]], float, float]:
    ids, lat = [], []
    for q in Q:
        t0 = time.perf_counter()
        found = search(q)
        lat.append(time.perf_counter() - t0)
        ids.append([int(x) for x in found])
    ms = np.array(lat) * 1000
    return ids, float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


def exact_top(X: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    def search(q: np.ndarray) -> np.ndarray:
        s = X @ q
        top = np.argpartition(-s, K)[:K]
        return top[np.argsort(-s[top])]
    return search


def bench_lib(lib: Lib, X: np.ndarray, Q: np.ndarray, truth: list[list[int]], tmp: Path) -> dict[str, object]:
    t0 = time.perf_counter()
    lib.build(X)
    build_s = time.perf_counter() - t0
    path = str(tmp / lib.name.split()[0])
    t0 = time.perf_counter()
    lib.save(path)
    save_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    lib.load(path)
    load_s = time.perf_counter() - t0
    row: dict[str, object] = {"build_vec_per_s": len(X) / build_s, "build_s": build_s, "save_s": save_s, "load_s": load_s,
                              "disk_mb": os.path.getsize(path) / 1e6, "ef": {}}
    for ef in (EFS if not isinstance(lib, FaissFlat) else (0,)):
        lib.set_ef(ef)
        found, p50, p99 = timed_queries(lib.search, Q)
        row["ef"][ef] = {"p50_ms": p50, "p99_ms": p99, "recall@10": recall(found, truth)}
    return row


def bench_store(chunks: list[str], X: np.ndarray, Q: np.ndarray, truth: list[list[int]], tmp: Path) -> dict[str, float]:
    """The embedded store end to end: SQLite rows (10 chunks a document), the graph on first
    search, then one document re-ingested and the next search (which brings the graph up to date)."""
    store = EmbeddedStore(tmp / "store", X.shape[1])
    per_doc = 10
    t0 = time.perf_counter()
    for d in range(0, len(X), per_doc):
        part = [Chunk(f"doc{d}", i, "", chunks[d + i]) for i in range(min(per_doc, len(X) - d))]
        store.replace_document(f"doc{d}", f"{d:064x}", part, X[d : d + len(part)])
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.search(Q[0], K)
    graph_s = time.perf_counter() - t0
    found, p50, p99 = timed_queries(lambda q: [int(h.source[3:]) + h.ordinal for h in store.search(q, K)], Q)
    # Incremental re-ingest: one changed document, then the first search after it.
    t0 = time.perf_counter()
    part = [Chunk("doc0", i, "", chunks[i] + " (edited)") for i in range(per_doc)]
    store.replace_document("doc0", "f" * 64, part, X[:per_doc])
    store.search(Q[0], K)
    update_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.delete_document("doc10")
    store.search(Q[0], K)
    delete_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    reopened = EmbeddedStore(tmp / "store", X.shape[1], create=False)
    reopened.search(Q[0], K)
    reopen_s = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in (tmp / "store").iterdir()) / 1e6
    store.close()
    reopened.close()
    return {"write_s": write_s, "graph_s": graph_s, "p50_ms": p50, "p99_ms": p99, "recall@10": recall(found, truth),
            "update_one_doc_s": update_s, "delete_one_doc_s": delete_s, "reopen_first_search_s": reopen_s, "disk_mb": size, "build_vec_per_s": len(X) / (write_s + graph_s)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--minilm", type=int, default=1000, help="chunks MiniLM embeds (its throughput; the static tier's ridge targets)")
    ap.add_argument("--data", type=Path, default=None, help="the shared data folder (default: $ORCHESTRATOR_SHARED_DATA or ../shared/data)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    ap.add_argument("--store-only", action="store_true", help="only the exact baseline and the EmbeddedStore rows")
    args = ap.parse_args()

    from orchestrator.profiling.questions import shared_data_dir

    t_all = time.perf_counter()
    args.data = args.data or shared_data_dir()
    chunks, queries = real_chunks(args.data, args.n, args.queries)
    X, Q, emb = embed(chunks, queries, args.minilm)
    truth, exact_p50, exact_p99 = timed_queries(exact_top(X), Q)
    results: dict[str, object] = {"n": len(X), "queries": len(Q), "embedding": emb,
                                  "numpy brute force (exact)": {"p50_ms": exact_p50, "p99_ms": exact_p99, "recall@10": 1.0}}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for lib in [] if args.store_only else available():
            results[lib.name] = bench_lib(lib, X, Q, truth, tmp)
            del lib
        results[STORE] = bench_store(chunks, X, Q, truth, tmp)

    print(f"\n{len(X):,} real text chunks (mean {emb['chunk_chars']:.0f} chars), {len(Q)} real questions as queries, top {K}")
    print(f"MiniLM: {emb['minilm_chunks_per_s']:.1f} chunks/s ({args.minilm} chunks; {len(X) / emb['minilm_chunks_per_s'] / 60:.0f} min for all); "
          f"static tier: {emb['static_chunks_per_s']:,.0f} chunks/s; static vs MiniLM cosine on held-out chunks {emb['static_minilm_cosine']:.3f}\n")
    print(f"{'index':28s} {'build vec/s':>11s} {'save s':>7s} {'load s':>7s} {'MB':>6s} " + " ".join(f"{'ef' + str(ef) + ' p50/p99 ms, recall':>30s}" for ef in EFS))
    print(f"{'numpy brute force (exact)':28s} {'-':>11s} {'-':>7s} {'-':>7s} {'-':>6s} {exact_p50:>12.3f}/{exact_p99:<8.3f} 1.000")
    for name, row in results.items():
        if isinstance(row, dict) and "ef" in row:
            cells = [f"{c['p50_ms']:>12.3f}/{c['p99_ms']:<8.3f} {c['recall@10']:.3f}" for c in row["ef"].values()]
            print(f"{name:28s} {row['build_vec_per_s']:11,.0f} {row['save_s']:7.2f} {row['load_s']:7.2f} {row['disk_mb']:6.0f} " + "   ".join(cells))
    s = results[STORE]
    print(f"\nEmbeddedStore end to end: SQLite writes {s['write_s']:.1f} s + graph {s['graph_s']:.1f} s ({s['build_vec_per_s']:,.0f} chunks/s), "
          f"p50 {s['p50_ms']:.3f} ms, p99 {s['p99_ms']:.3f} ms, recall@10 {s['recall@10']:.3f}; one document re-ingested and searched {s['update_one_doc_s']:.3f} s, one deleted and searched {s['delete_one_doc_s']:.3f} s; "
          f"reopened + first search {s['reopen_first_search_s']:.2f} s; {s['disk_mb']:.0f} MB on disk")
    print("p50 speed-up over numpy brute force at ef 64: " + ", ".join(
        f"{n} {exact_p50 / r['ef'][64]['p50_ms']:.1f}x" for n, r in results.items() if isinstance(r, dict) and 64 in r.get("ef", {})))
    print(f"total {time.perf_counter() - t_all:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
