"""Routing quality and escalation (cascade) policies on the shared routing files, test split.

Per file: (1) the default router (k=1 at its default cost weight, chosen on train CV) against
its own `category` policy, kNN k=20 and best single, with the blend CV chose and the train-CV
cost dial (the default marked); (2) the escalation table: cascades on each confidence signal
(thresholds and plans chosen on train CV, two operating points per signal) against best
single, a vote of the top 3, the router alone, the Dataset Oracle and the per-query oracle;
accuracy, cost (every call charged), cost-of-pass, escalation rate, calls, share of traffic to
the top model, and a test cost-accuracy curve per signal. Everything is chosen on train.

    flock /tmp/bench.lock .venv/bin/python bench/bench_escalation.py [--files mmlu_pro ...] [--data-dir DIR] [--embedding static] [--no-escalation] [--probe-cost-weights 0.3 1.0]

``--probe-cost-weights`` replays a different grid of tier-1 cost weights (the default is
``orchestrator.escalation.replay.PROBE_COST_WEIGHTS``; ``0.3 1.0`` is the grid before it).

Embeddings come from the embedding cache (~/.cache/orchestrator/embeddings by default).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.data import load_dataset  # noqa: E402
from orchestrator.embeddings import Embedder  # noqa: E402
from orchestrator.escalation.cascade import CascadePlan  # noqa: E402
from orchestrator.escalation.offline import escalation_report  # noqa: E402
from orchestrator.escalation.replay import PLANS, cascade_plans  # noqa: E402
from orchestrator.escalation.render import escalation_markdown  # noqa: E402
from orchestrator.router import TwoLevelRouter  # noqa: E402
from orchestrator.router.baselines import BestSingleRouter, KNNRouter  # noqa: E402
from orchestrator.router.blend import POLICY_LABELS  # noqa: E402
from router_training.embedding_cache import cached_embeddings, default_cache_dir  # noqa: E402

FILES = ("routerbench3", "zeroeval_reasoning", "routellm_gsm8k_pair", "mmlu_pro")


def _pick(router, test, X, **kw) -> np.ndarray:
    return np.array([test.experts.index(d.chosen[0]) for d in router.route(test.prompts, embeddings=X, k=1, **kw)])


def _scale(unit: str | None) -> float:
    return 1000.0 if unit == "usd" else 1.0


def simulated_logprobs(ds) -> np.ndarray:
    """Mean token log-probability per (row, expert) as the simulator reports it for a replayed
    answer (services/expert_sim/logprob_values.py): the recorded data has none."""
    from services.expert_sim.logprob_values import token_logprobs

    chars = np.nan_to_num(ds.output_chars, nan=200.0)
    out = np.zeros(ds.scores.shape)
    for i, rid in enumerate(ds.ids):
        for j, e in enumerate(ds.experts):
            n = int(np.clip(chars[i, j] / 4, 8, 64))
            out[i, j] = np.mean(token_logprobs(n, bool(ds.scores[i, j] >= 0.5), expert=e, prompt=rid))
    return out


def tfidf_embeddings(train_prompts: list[str], test_prompts: list[str], dim: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A MiniLM-free embedding fitted on train only (TF-IDF word 1-2 grams -> SVD -> unit
    vectors), for when MiniLM embeddings of a file are not cached and embedding it would take
    longer than the bench may (--embedding tfidf)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    from orchestrator.router.text import query_views

    vec = TfidfVectorizer(sublinear_tf=True, min_df=2, ngram_range=(1, 2), max_features=50_000)
    svd = TruncatedSVD(n_components=dim, random_state=0)
    Xtr = svd.fit_transform(vec.fit_transform(query_views(train_prompts)))
    Xte = svd.transform(vec.transform(query_views(test_prompts)))
    return normalize(Xtr).astype(np.float32), normalize(Xte).astype(np.float32)


def static_embeddings(emb: Embedder, train, test) -> tuple[np.ndarray, np.ndarray]:
    """The shipped default tier: the static tier distilled on train only (as ``orchestrator
    train`` does), and the router then fitted on its vectors, which is what the gateway serves
    (--embedding static)."""
    from bench_routing_quality import static_tier  # the same distillation as its tier table
    from orchestrator.router.text import query_views

    static = static_tier(emb, train, cached_embeddings(train.prompts, emb, cache_dir=default_cache_dir()))
    return static.encode(query_views(train.prompts)), static.encode(query_views(test.prompts))


def run_file(path: Path, emb: Embedder, with_logprobs: bool = False, embedding: str = "minilm", escalation: bool = True,
             plans: tuple[CascadePlan, ...] = PLANS) -> None:
    ds = load_dataset(path, require_complete=True)
    tr = np.array([s == "train" for s in ds.splits])
    train, test = ds.subset(np.flatnonzero(tr)), ds.subset(np.flatnonzero(~tr))
    if embedding == "tfidf":
        Xtr, Xte = tfidf_embeddings(train.prompts, test.prompts)
    elif embedding == "static":
        Xtr, Xte = static_embeddings(emb, train, test)
    else:
        Xtr = cached_embeddings(train.prompts, emb, cache_dir=default_cache_dir())
        Xte = cached_embeddings(test.prompts, emb, cache_dir=default_cache_dir())
    cost_tr, unit = train.cost_matrix()
    cost_te, _ = test.cost_matrix()
    if cost_te is None:
        cost_tr, cost_te = np.ones(train.scores.shape), np.ones(test.scores.shape)
    k = _scale(unit)
    truth = np.nan_to_num(test.scores)
    rows = np.arange(len(test))
    t0 = time.perf_counter()
    router = TwoLevelRouter(embedder=emb).fit(train, embeddings=Xtr)
    fit_s = time.perf_counter() - t0
    policies = {
        f"default router (cost weight {router.cv_cost_weight_:g}, chosen on train CV)": _pick(router, test, Xte, cost_weight="cv"),
        "router at cost weight 0": _pick(router, test, Xte, cost_weight=0.0),
        "its category policy (CoE)": _pick(router, test, Xte, mode="category"),
        "kNN k=20": _pick(KNNRouter(20).fit(train, embeddings=Xtr), test, Xte),
        "best single (train)": _pick(BestSingleRouter().fit(train), test, Xte),
    }
    b = router.blend_
    print(f"\n## {path.name} [{embedding} embeddings] (train {len(train)}, test {len(test)}, {len(ds.experts)} experts; cost unit {unit or 'none'}"
          f"{' x1000' if unit == 'usd' else ''}; router fit {fit_s:.0f}s)")
    print(f"blend (CV routing accuracy at cost weight {b.selected_at_cost_weight:g}): weights {b.weights}, k={b.k}, "
          f"shrinkage={b.shrinkage:g}, C={b.C:g}; CV accuracy {b.cv_accuracy:.3f}; task classifier: {'yes' if router.parts_.task is not None else 'no (no finer label)'}")
    if b.cost_curve:
        print("train-CV dial (cost weight: accuracy ± se, cost; * = default): " + "; ".join(
            f"{'*' if c['cost_weight'] == router.cv_cost_weight_ else ''}{c['cost_weight']:g}: {c['accuracy']:.3f}±{c['se']:.3f}, {c['mean_cost'] * k:.3f}"
            for c in b.cost_curve))
    print("\n| policy | accuracy | cost |\n|---|---|---|")
    for name, pick in policies.items():
        print(f"| {name} | {truth[rows, pick].mean():.3f} | {cost_te[rows, pick].mean() * k:.3f} |")
    # The router's blend settings were selected on these folds, so its margin carries that
    # selection's optimism; the simple policies have nothing to select.
    cv = router.cv_policies_
    print("\nThe same policies on train (5-fold CV, the folds the blend was chosen on; `router.cv_policies_`):\n\n"
          "| policy | CV accuracy ± SE | router minus it (paired) ± SE |\n|---|---|---|\n"
          f"| default router | {cv['router']['accuracy']:.4f} ± {cv['router']['se']:.4f} | |")
    for name, label in POLICY_LABELS.items():
        c = cv[name]
        print(f"| {label} | {c['accuracy']:.4f} ± {c['se']:.4f} | {c['router_gain']:+.4f} ± {c['router_gain_se']:.4f} |")
    if not escalation:
        return
    runs = [("real signals", ("agreement", "router", "posterior", "learned"), None)]
    if with_logprobs:  # the same router, replayed again with the simulator's log-probabilities as a signal and a feature
        runs.append(("simulated log-probabilities", ("logprob", "learned"), (simulated_logprobs(train), simulated_logprobs(test))))
    for title, signals, lp in runs:
        t0 = time.perf_counter()
        rep = escalation_report(router, train, test, Xte, cost_tr, cost_te, signals=signals, logprobs=lp, plans=plans)
        if rep is None:
            return
        print(f"\n### escalation, {title} (replayed in {time.perf_counter() - t0:.0f}s)\n")
        print(escalation_markdown(rep, lambda c: f"{c * k:.3f}"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", nargs="*", default=list(FILES))
    ap.add_argument("--data-dir", type=Path, default=ROOT / ".." / "shared" / "data")
    ap.add_argument("--embedding", choices=("minilm", "static", "tfidf"), default="minilm",
                    help="static: the shipped default tier (distilled on train); tfidf: fitted on train, no MiniLM")
    ap.add_argument("--no-escalation", action="store_true", help="only the router against its simple policies")
    ap.add_argument("--simulated-logprobs", action="store_true", help="add the logprob signal, with the simulator's values")
    ap.add_argument("--probe-cost-weights", nargs="+", type=float, default=None,
                    help="tier-1 cost weights of the replayed plans (default: the shipped grid)")
    args = ap.parse_args()
    routing = args.data_dir / "routing"
    if not routing.is_dir():
        print(f"shared data absent at {routing}: nothing to benchmark")
        return
    emb = Embedder()
    plans = PLANS if args.probe_cost_weights is None else cascade_plans(tuple(args.probe_cost_weights))
    for name in args.files:
        run_file(routing / f"{name}.jsonl", emb, with_logprobs=args.simulated_logprobs, embedding=args.embedding,
                 escalation=not args.no_escalation, plans=plans)


if __name__ == "__main__":
    main()
