"""Routing quality on the shared routing files (test split), every policy side by side.

For each file in ../shared/data/routing: the two-level router (at cost weight 0 and at the
cheapest cost weight that gives up no cross-validated accuracy on *train* only,
``cost_weight="cv"``), its CoE-only and recruiter-only
modes, the static embedding tier, and the baselines (best single, oracle, random, kNN k=20,
per-expert logistic regression) — accuracy and mean cost per query; then k=3 coverage against
the best fixed trio (chosen on train). Last, the category classifier on categories.jsonl, and
the embedding tiers side by side: the same router (fitted on train's MiniLM embeddings, as
``orchestrator train`` does) answering test queries embedded by MiniLM and by the static tier
(distilled on train only), at the default dial and at cost weight 0, with the gap per file.

    .venv/bin/python bench/bench_routing_quality.py [--files routerbench3 ...] [--no-static] [--no-categories]
    .venv/bin/python bench/bench_routing_quality.py --tiers-only --files routerbench3 zeroeval_reasoning routellm_gsm8k_pair mmlu_pro [--data-dir DIR]

``--files`` takes names under DIR/routing or paths to routing files.

Embeddings are cached under ~/.cache/orchestrator/embeddings (the first run embeds ~20k texts: minutes).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT / ".." / "shared" / "data"

from orchestrator.data import load_category_file, load_dataset, oracle_choice  # noqa: E402
from orchestrator.embeddings import Embedder  # noqa: E402
from orchestrator.router import TwoLevelRouter  # noqa: E402
from orchestrator.router.baselines import BestSingleRouter, KNNRouter, RandomRouter, ScoreRegressionRouter  # noqa: E402
from orchestrator.router.text import query_views  # noqa: E402
from router_training.embedding_cache import cache_path, cached_embeddings  # noqa: E402


def evaluate(router, test, X, truth, cost, **kw) -> tuple[float, float | None]:
    d = router.route(test.prompts, embeddings=X, k=1, **kw)
    pick = np.array([test.experts.index(x.chosen[0]) for x in d])
    rows = np.arange(len(test))
    return float(truth[rows, pick].mean()), None if cost is None else float(cost[rows, pick].mean())


def coverage(router, test, X, truth, k: int = 3) -> float:
    d = router.route(test.prompts, embeddings=X, k=k)
    return float(np.mean([max(truth[i, test.experts.index(e)] for e in x.chosen) for i, x in enumerate(d)]))


def best_trio(train_truth: np.ndarray, k: int = 3) -> tuple[int, ...]:
    m = train_truth.shape[1]
    if m <= k:
        return tuple(range(m))
    # Greedy start then exhaustive over the 12 best experts keeps this quick for 26 models.
    top = np.argsort(-train_truth.mean(axis=0))[: min(m, 12)]
    return max(itertools.combinations(top, k), key=lambda c: train_truth[:, list(c)].max(axis=1).mean())


def fmt_cost(c: float | None, unit: str | None) -> str:
    if c is None:
        return "-"
    return f"{c * 1000:.3f}" if unit == "usd" else f"{c:.1f}"


@dataclass
class TierRow:
    """One file's tier comparison: accuracy (and cost) per tier at the default dial and at weight 0.
    ``static`` is what ships (the router fitted on the static tier's own vectors, as ``orchestrator
    train`` does); ``projected`` is the MiniLM-fitted router reading static vectors (before)."""

    file: str
    minilm: tuple[float, float | None]
    static: tuple[float, float | None]
    minilm_w0: float
    static_w0: float
    projected: float


def static_tier(emb: Embedder, train, Xtr: np.ndarray):
    """The static tier distilled on train only (as ``orchestrator train`` does)."""
    from orchestrator.router.static_tier import StaticEmbedder
    from router_training.static_distill import distil_static_tier

    return StaticEmbedder(distil_static_tier(emb, train.prompts, Xtr), base=emb)


def tier_row(name: str, router, train, test, Xte, static, truth, cost) -> TierRow:
    from router_training.train import fit_static_tier_router

    router.static_tier_ = static.table
    twin = fit_static_tier_router(router, train)
    Xs = static.encode(query_views(test.prompts))
    return TierRow(name, evaluate(router, test, Xte, truth, cost), evaluate(twin, test, Xs, truth, cost),
                   evaluate(router, test, Xte, truth, cost, cost_weight=0.0)[0], evaluate(twin, test, Xs, truth, cost, cost_weight=0.0)[0],
                   evaluate(router, test, Xs, truth, cost)[0])


def print_tiers(rows: list[TierRow], bar: float = 0.005) -> None:
    print(f"\n## embedding tiers, same router (test split; default dial = cost_weight 'cv'; bar: within {bar} of the best tier)")
    print("| file | minilm acc | static acc | static - minilm | minilm acc (w=0) | static acc (w=0) | gap (w=0) | static cost / minilm | static, MiniLM-fitted router |\n|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = "-" if r.minilm[1] is None or not r.minilm[1] else f"{r.static[1] / r.minilm[1]:.2f}x"
        print(f"| {r.file} | {r.minilm[0]:.3f} | {r.static[0]:.3f} | {r.static[0] - r.minilm[0]:+.3f} | {r.minilm_w0:.3f} | {r.static_w0:.3f} | {r.static_w0 - r.minilm_w0:+.3f} | {ratio} | {r.projected:.3f} |")
    for tier in ("minilm", "static"):
        worst = max(max(r.minilm[0], r.static[0]) - getattr(r, tier)[0] for r in rows)
        print(f"{tier}: mean accuracy {np.mean([getattr(r, tier)[0] for r in rows]):.4f}; worst shortfall vs the best tier {worst:.4f} "
              f"-> {'meets' if worst <= bar else 'misses'} the {bar} bar")


def split_file(path: Path, emb: Embedder):
    """The file, its train and test splits, and their MiniLM embeddings: from the whole file's
    cache entry when there is one, else one entry per split (how mmlu_pro's were cached)."""
    ds = load_dataset(path)
    tr = np.array([s == "train" for s in ds.splits])
    train, test = ds.subset(np.flatnonzero(tr)), ds.subset(np.flatnonzero(~tr))
    if cache_path(ds.prompts, emb).is_file():
        X = cached_embeddings(ds.prompts, emb)
        return ds, train, test, X[tr], X[~tr]
    return ds, train, test, cached_embeddings(train.prompts, emb), cached_embeddings(test.prompts, emb)


def run_tiers(path: Path, emb: Embedder) -> TierRow:
    """Only the tier comparison (fits the router once; no baselines)."""
    _, train, test, Xtr, Xte = split_file(path, emb)
    router = TwoLevelRouter(embedder=emb).fit(train, embeddings=Xtr)
    cost, _ = test.cost_matrix()
    return tier_row(path.stem, router, train, test, Xte, static_tier(emb, train, Xtr), np.nan_to_num(test.scores), cost)


def run_file(path: Path, emb: Embedder, static: bool) -> TierRow | None:
    ds, train, test, Xtr, Xte = split_file(path, emb)
    truth = np.nan_to_num(test.scores)
    train_truth = np.nan_to_num(train.scores)
    cost, unit = test.cost_matrix()
    t0 = time.perf_counter()
    router = TwoLevelRouter(embedder=emb).fit(train, embeddings=Xtr)
    fit_s = time.perf_counter() - t0
    tiers = None
    w_cv = router.cv_cost_weight_
    rows: list[tuple[str, float, float | None]] = []
    rows.append(("two-level router (cost weight 0)", *evaluate(router, test, Xte, truth, cost)))
    if cost is not None:
        rows.append((f"two-level router (cost weight {w_cv:g}, free-accuracy rule on train CV)", *evaluate(router, test, Xte, truth, cost, cost_weight="cv")))
    rows.append(("  CoE only (category -> expert)", *evaluate(router, test, Xte, truth, cost, mode="category")))
    rows.append(("  Symbolic-MoE recruiter only", *evaluate(router, test, Xte, truth, cost, mode="recruiter")))
    if static:
        tiers = tier_row(path.stem, router, train, test, Xte, static_tier(emb, train, Xtr), truth, cost)
        rows.append(("  static embedding tier (its own router, as shipped)", *tiers.static))
    rows.append(("best single (picked on train)", *evaluate(BestSingleRouter().fit(train), test, Xte, truth, cost)))
    rows.append(("kNN k=20", *evaluate(KNNRouter(20).fit(train, embeddings=Xtr), test, Xte, truth, cost)))
    rows.append(("per-expert logistic regression", *evaluate(ScoreRegressionRouter().fit(train, embeddings=Xtr), test, Xte, truth, cost)))
    rows.append(("random", *evaluate(RandomRouter().fit(train), test, Xte, truth, cost)))
    pick = oracle_choice(test.scores, cost)
    r = np.arange(len(test))
    rows.append(("oracle (cheapest best)", float(truth[r, pick].mean()), None if cost is None else float(cost[r, pick].mean())))
    unit_label = {"usd": "USD per 1k queries", "output_chars": "mean output chars", None: "no cost signal"}.get(unit, unit)
    print(f"\n## {path.name}  (train {len(train)}, test {len(test)}, {len(ds.experts)} experts; cost: {unit_label}; fit {fit_s:.1f}s)")
    print(f"blend chosen by 5-fold CV (Brier): {router.blend_.weights}, k={router.blend_.k}, C={router.blend_.C}; "
          f"CV accuracy {router.blend_.cv_accuracy:.3f}, CV Brier {router.blend_.cv_brier:.4f}")
    if router.blend_.cost_curve:
        print("train CV cost curve (weight: accuracy +- se, cost): " + "; ".join(
            f"{c['cost_weight']:g}: {c['accuracy']:.3f}+-{c['se']:.3f}, {fmt_cost(c['mean_cost'], unit)}" for c in router.blend_.cost_curve))
    best_acc, best_cost = rows[[n for n, *_ in rows].index("best single (picked on train)")][1:]
    print("| policy | accuracy | cost | acc - best single | cost / best single |\n|---|---|---|---|---|")
    for name, acc, c in rows:
        ratio = "-" if c is None or not best_cost else f"{c / best_cost:.2f}x"
        print(f"| {name} | {acc:.3f} | {fmt_cost(c, unit)} | {acc - best_acc:+.3f} | {ratio} |")
    if len(ds.experts) >= 3:
        trio = best_trio(train_truth)
        cov_router = coverage(router, test, Xte, truth)
        cov_cover = coverage(router.set_params(selection="cover"), test, Xte, truth)
        router.set_params(selection="top_k")
        cov_knn = coverage(KNNRouter(20).fit(train, embeddings=Xtr), test, Xte, truth)
        cv = router.cover_
        print(f"k=3 coverage (any of the 3 right): router top-k {cov_router:.3f} | router cover {cov_cover:.3f} "
              f"(alpha {cv.alpha:g}, {cv.n_neighbors} neighbours; train CV {cv.cv_coverage:.3f}) | kNN top-3 {cov_knn:.3f} | "
              f"best fixed trio {truth[:, list(trio)].max(axis=1).mean():.3f} ({', '.join(ds.experts[j] for j in trio)}) | any model {truth.max(axis=1).mean():.3f}")
        dyn = router.route(test.prompts, embeddings=Xte)
        print(f"dynamic k (top_p={router.top_p}): mean k {np.mean([d.k for d in dyn]):.2f}, coverage "
              f"{np.mean([max(truth[i, test.experts.index(e)] for e in d.chosen) for i, d in enumerate(dyn)]):.3f}")
    return tiers


def run_categories(emb: Embedder, data_dir: Path = SHARED) -> None:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    from orchestrator.router.category import CategoryClassifier, normalised_entropy

    cf = load_category_file(data_dir / "categories.jsonl")
    X = cached_embeddings(cf.texts, emb)
    tr = np.array([s == "train" for s in cf.splits])
    y = np.array(cf.categories, dtype=object)
    clf = CategoryClassifier().fit(X[tr], list(y[tr]))
    probs = clf.predict_proba(X[~tr])
    pred = np.array(clf.classes_, dtype=object)[probs.argmax(axis=1)]
    acc = accuracy_score(y[~tr], pred)
    f1 = f1_score(y[~tr], pred, average="macro")
    ent = normalised_entropy(probs)
    confident = ent <= 0.85
    print(f"\n## categories.jsonl (train {tr.sum()}, test {(~tr).sum()}, {len(clf.classes_)} categories)")
    print(f"category classifier: test accuracy {acc:.3f}, macro-F1 {f1:.3f}, temperature {clf.temperature_:.2f}; "
          f"entropy <= 0.85 on {confident.mean():.1%} of queries (accuracy there {accuracy_score(y[~tr][confident], pred[confident]):.3f})")
    cm = confusion_matrix(y[~tr], pred, labels=clf.classes_)
    off = [(cm[i, j], clf.classes_[i], clf.classes_[j]) for i in range(len(cm)) for j in range(len(cm)) if i != j]
    print("most frequent confusions (true -> predicted): " + "; ".join(f"{a} -> {b} ({n})" for n, a, b in sorted(off, reverse=True)[:6]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", nargs="*", default=["routerbench3", "zeroeval_reasoning", "routellm_gsm8k_pair"])
    ap.add_argument("--no-static", action="store_true", help="skip the static-tier row")
    ap.add_argument("--no-categories", action="store_true", help="skip the category classifier")
    ap.add_argument("--tiers-only", action="store_true", help="only the minilm vs static tier table (one fit per file)")
    ap.add_argument("--data-dir", type=Path, default=SHARED, help="the shared data folder (routing/ and categories.jsonl)")
    args = ap.parse_args()
    if not args.data_dir.is_dir():
        print(f"shared data absent at {args.data_dir}: nothing to benchmark")
        return
    emb = Embedder()
    tiers: list[TierRow] = []
    for name in args.files:
        path = Path(name) if name.endswith(".jsonl") else args.data_dir / "routing" / f"{name}.jsonl"
        row = run_tiers(path, emb) if args.tiers_only else run_file(path, emb, static=not args.no_static)
        if row is not None:
            tiers.append(row)
    if not args.no_categories and not args.tiers_only:
        run_categories(emb, args.data_dir)
    if tiers:
        print_tiers(tiers)


if __name__ == "__main__":
    main()
