"""What a cascade could reach at half of best single's cost, given more than the gateway knows.

Issue 11's second mmlu_pro target is best single's accuracy at <= 50% of its cost, which the
shipped cascades miss (69% on the MiniLM tier, 82% on the static one; bench_escalation.py). This
bounds the target from above with a generous two-tier cascade, to tell "our signals are too
weak" from "no signal in this data can do it":

- tier 1: one cheap expert (each of the three most accurate on train among those costing <= 25%
  of best single), optionally with one or two cheap probes whose answers it is compared with;
- tier 2: best single (chosen on train);
- the confidence model: the learned signal's gradient-boosted trees (``BoostedConfidence``) on the **true**
  category one-hot (the router only predicts it), the tier-1 answer's log length and whether an
  answer was extracted, and each probe's agreement with it and its length; P(tier 1 right) is
  cross-validated on train (5 shuffled stratified folds);
- the escalation threshold: the most accurate on train whose train cost stays <= 50% of best
  single's, applied to the model refitted on all of train and scored on test.

It also prints the perfect-signal ceiling (escalate exactly the rows tier 1 gets wrong).

    flock /tmp/bench.lock .venv/bin/python bench/bench_escalation_bound.py [--files mmlu_pro ...] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.data import load_dataset  # noqa: E402
from orchestrator.escalation.signals import BoostedConfidence  # noqa: E402


def _features(ds, first: int, probes: tuple[int, ...], categories: list[str]) -> np.ndarray:
    answers = [row.get(ds.experts[first]) for row in ds.answers]
    cols = [
        np.log1p(np.nan_to_num(ds.output_chars[:, first], nan=0.0)),
        np.array([a is None for a in answers], float),
        *(np.array([c == k for c in ds.categories], float) for k in categories),
    ]
    for p in probes:
        theirs = [row.get(ds.experts[p]) for row in ds.answers]
        cols += [np.array([a is not None and a == b for a, b in zip(answers, theirs)], float),
                 np.log1p(np.nan_to_num(ds.output_chars[:, p], nan=0.0))]
    return np.column_stack(cols)


def _outcome(ds, cost: np.ndarray, first: int, probes: tuple[int, ...], target: int, escalate: np.ndarray) -> tuple[float, float]:
    rows = np.arange(len(ds))
    answered = np.where(escalate, target, first)
    spent = cost[:, first] + cost[:, list(probes)].sum(axis=1) + np.where(escalate, cost[:, target], 0.0)
    return float(ds.scores[rows, answered].mean()), float(spent.mean())


def bound(path: Path) -> None:
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    ds = load_dataset(path)
    train, test = ds.split("train"), ds.split("test")
    cost_tr, unit = train.cost_matrix()
    cost_te, _ = test.cost_matrix()
    if cost_tr is None or not ds.has_answers:
        print(f"{path.stem}: skipped (needs recorded costs and extracted answers)")
        return
    acc_tr = train.scores.mean(axis=0)
    target = int(np.argmax(acc_tr))
    budget_tr, budget_te = 0.5 * cost_tr[:, target].mean(), 0.5 * cost_te[:, target].mean()
    cheap = [j for j in np.argsort(-acc_tr) if j != target and cost_tr[:, j].mean() <= 0.25 * cost_tr[:, target].mean()]
    categories = sorted({c for c in ds.categories if c is not None})
    scale = 1000.0 if unit == "usd" else 1.0
    print(f"\n{path.stem}: best single (train) {ds.experts[target]}: test {test.scores[:, target].mean():.3f} at "
          f"{cost_te[:, target].mean() * scale:.3f} ({unit}{'/1k' if unit == 'usd' else ''}); 50% = {budget_te * scale:.3f}")
    if not cheap:
        print("no expert costs <= 25% of best single's: no cheap first tier to bound")
        return
    print("| tier 1 | probes | AUROC (train CV) | train acc @ <=50% | test acc | test cost (% of best single) | escalated | perfect signal (test) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for first in cheap[:3]:
        others = [j for j in np.argsort(cost_tr.mean(axis=0)) if j not in (first, target)][:4]
        perfect = _outcome(test, cost_te, first, (), target, test.scores[:, first] < 0.5)
        for probes in [(), *itertools.combinations(others, 1), *itertools.combinations(others, 2)]:
            y = train.scores[:, first] >= 0.5
            X_tr, X_te = _features(train, first, probes, categories), _features(test, first, probes, categories)
            p_tr = np.zeros(len(y))
            for fit, held in StratifiedKFold(5, shuffle=True, random_state=0).split(X_tr, y):
                p_tr[held] = BoostedConfidence().fit(X_tr[fit], y[fit]).predict_proba(X_tr[held])
            p_te = BoostedConfidence().fit(X_tr, y).predict_proba(X_te)
            best = (-1.0, -np.inf)
            for thr in np.quantile(p_tr, np.linspace(0, 1, 201)):
                a, c = _outcome(train, cost_tr, first, probes, target, p_tr < thr)
                if c <= budget_tr and a > best[0]:
                    best = (a, thr)
            if best[0] < 0:
                continue  # tier 1 and its probes alone exceed the budget
            a, c = _outcome(test, cost_te, first, probes, target, p_te < best[1])
            share = cost_te[:, target].mean()
            print(f"| {ds.experts[first]} | {', '.join(ds.experts[p] for p in probes) or '-'} | {roc_auc_score(y, p_tr):.3f} | "
                  f"{best[0]:.3f} | {a:.3f} | {c * scale:.3f} ({c / share:.0%}) | {np.mean(p_te < best[1]):.0%} | "
                  f"{perfect[0]:.3f} at {perfect[1] / share:.0%} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", nargs="+", default=["mmlu_pro"])
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    for name in args.files:
        path = args.data_dir / "routing" / f"{name}.jsonl"
        if not path.exists():
            print(f"{name}: skipped ({path} not found; the shared data lives in ../shared/data)")
            continue
        t0 = time.perf_counter()
        bound(path)
        print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
