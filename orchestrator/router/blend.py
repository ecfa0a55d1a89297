"""Choosing how the router's signals are blended, by K-fold cross-validation on the training rows.

Each fold fits every part on the other folds and scores its held-out rows; the out-of-fold
signals are then blended with every weight combination on a 0.25 grid (and every k and
shrinkage of the neighbour learner and C of the logistic one). The neighbour means are shrunk
toward the finest-label prior (``task`` when the data has it: p(task | x) times per-task
accuracy), with ``shrinkage`` pseudo-rows. The blend with the highest *routing accuracy at the
chosen cost weight* wins (the recorded score of each row's first choice, which is what routing
is judged on), ties going to the lower Brier score. The out-of-fold accuracy and cost at each
cost weight (with fold standard errors) give the dial's curve and the default cost weight. The
same folds replay the router's simple policies (its category policy and kNN k=20), the floor
the default cost weight may not go under and the reference ``cv_policies_`` reports.
Nothing from the test split is ever looked at.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import KFold

from orchestrator.router.parts import Parts, Signals, fit_parts, rank_experts, signals
from orchestrator.router.quality import expert_means
from orchestrator.router.selection import CostScale
from orchestrator.router.tuning import fold_mean_and_se

__all__ = ["POLICY_LABELS", "Blend", "OutOfFold", "choose_blend", "compare_policies", "describe_policies", "first_choice", "routing_accuracy"]

COMPONENTS = ("logistic", "knn", "category", "task", "skill")
SHRINKAGE_GRID = (0.0, 2.0, 10.0, 40.0)
COST_WEIGHT_GRID = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0)
OOF_NEIGHBOURS = 80  # kept per held-out row for tuning the coverage selector
SIMPLE_KNN = 20  # k of the kNN reference policy (RouterBench's), replayed on the folds beside the category policy


@dataclass(frozen=True)
class Blend:
    k: int
    C: float
    weights: dict[str, float]
    cv_accuracy: float = 0.0
    cv_brier: float = 0.0
    cost_curve: list[dict[str, float]] = field(default_factory=list)
    shrinkage: float = 2.0  # pseudo-rows of the finest-label prior in the neighbour mean
    selected_at_cost_weight: float = 0.0

    def knn(self, s: Signals) -> np.ndarray:
        return (self.k * s.knn[self.k] + self.shrinkage * s.prior) / (self.k + self.shrinkage)

    def apply(self, s: Signals) -> np.ndarray:
        w = self.weights
        q = w["logistic"] * s.logistic[self.C] + w["knn"] * self.knn(s)
        return q + w["category"] * s.category_prior + w.get("task", 0.0) * s.prior + w["skill"] * s.skill_quality


@dataclass(frozen=True)
class OutOfFold:
    """What cross-validation leaves for later tuning: each row's fold and its nearest training
    rows from the other folds (indices into the training rows, nearest first)."""

    folds: np.ndarray
    neighbours: np.ndarray
    quality: np.ndarray | None = None  # (n, m) out-of-fold blended P(correct) of the chosen blend
    cost: np.ndarray | None = None  # (n, m) out-of-fold expected cost per call
    policies: dict[str, np.ndarray] = field(default_factory=dict)  # simple policy -> (n,) out-of-fold first choice


def routing_accuracy(q: np.ndarray, truth: np.ndarray, tiebreak: np.ndarray | None = None) -> float:
    """Mean true score of each row's predicted-best expert (ties to the cheaper)."""
    if tiebreak is not None:
        q = q - 1e-9 * tiebreak / max(float(np.max(tiebreak)), 1e-12)
    pick = q.argmax(axis=1)
    return float(truth[np.arange(len(truth)), pick].mean())


def first_choice(q: np.ndarray, est_cost: np.ndarray | None, scale: CostScale | None, cost_weight: float) -> np.ndarray:
    """Each row's top-1 expert at ``cost_weight`` (equal quality: the cheaper, as ``top_k`` breaks ties)."""
    if est_cost is None or scale is None:
        return q.argmax(axis=1)
    norm = scale(est_cost)
    return (q - cost_weight * norm - 1e-9 * norm).argmax(axis=1)


def compare_policies(router_pick: np.ndarray, policies: dict[str, np.ndarray], truth: np.ndarray,
                     folds: np.ndarray) -> dict[str, dict[str, float]]:
    """Out-of-fold accuracy (± fold SE) of the router's first choice and of each simple policy,
    with the router's paired advantage over each (± fold SE)."""
    rows = np.arange(len(truth))
    ours = truth[rows, router_pick]
    acc, se = fold_mean_and_se(ours, folds)
    out = {"router": {"accuracy": acc, "se": se}}
    for name, pick in policies.items():
        theirs = truth[rows, pick]
        acc, se = fold_mean_and_se(theirs, folds)
        gain, gain_se = fold_mean_and_se(ours - theirs, folds)
        out[name] = {"accuracy": acc, "se": se, "router_gain": gain, "router_gain_se": gain_se}
    return out


POLICY_LABELS = {"category": "its category policy", "knn": f"kNN k={SIMPLE_KNN}"}


def describe_policies(cv: dict[str, dict[str, float]]) -> str:
    """One line of :func:`compare_policies`' result, for ``train`` and ``eval`` alike."""
    beside = ", ".join(f"{label} {cv[name]['accuracy']:.3f} ({cv[name]['router_gain']:+.3f} ± {cv[name]['router_gain_se']:.3f} paired)"
                       for name, label in POLICY_LABELS.items() if name in cv)
    return f"router {cv['router']['accuracy']:.3f} vs {beside}"


def _simple_policies(parts: Parts, s: Signals, scores: np.ndarray, costs: np.ndarray | None) -> dict[str, np.ndarray]:
    """The router's simple policies on held-out rows, from parts fitted on the other folds: its
    category policy (CoE: the predicted category's best expert, the overall best on fallback;
    the data's own map, without experts.yaml's overrides) and kNN (mean score of the SIMPLE_KNN
    nearest rows, unshrunk; ties to the expert better on those rows, as ``KNNRouter`` breaks them)."""
    expert_cost = None if costs is None else costs.mean(axis=0)
    per_class = np.array([rank_experts(row, scores, expert_cost)[0] for row in parts.category_table])
    fallback = rank_experts(parts.overall, scores, expert_cost)[0]
    category = np.where(s.fallback, fallback, per_class[s.category_probs.argmax(axis=1)])
    rank = np.argsort(np.argsort(-expert_means(scores), kind="stable"), kind="stable")
    return {"category": category, "knn": (s.knn[SIMPLE_KNN] - 1e-9 * rank).argmax(axis=1)}


def _weight_grid(step: float = 0.25, with_task: bool = True) -> list[dict[str, float]]:
    n = round(1 / step)
    out = []
    for combo in itertools.product(range(n + 1), repeat=len(COMPONENTS)):
        w = {c: v * step for c, v in zip(COMPONENTS, combo, strict=True)}
        if sum(combo) == n and (with_task or w["task"] == 0):
            out.append(w)
    return out


def _stack(parts: list[Signals], order: np.ndarray) -> Signals:
    """Out-of-fold signals, concatenated and put back in row order."""
    inv = np.argsort(order)
    cat = lambda xs: np.concatenate(xs)[inv]  # noqa: E731
    first = parts[0]
    return Signals(
        category_probs=np.zeros((len(order), 0)),
        fallback=cat([p.fallback for p in parts]),
        entropy=cat([p.entropy for p in parts]),
        neighbours=np.zeros((len(order), 0), dtype=int),
        knn={k: cat([p.knn[k] for p in parts]) for k in first.knn},
        logistic={C: cat([p.logistic[C] for p in parts]) for C in first.logistic},
        category_prior=cat([p.category_prior for p in parts]),
        skill_quality=cat([p.skill_quality for p in parts]),
        skill_hot=np.zeros((len(order), 0)),
        skills=[],
        cost=None if first.cost is None else cat([p.cost for p in parts]),
        task_prior=None if first.task_prior is None else cat([p.task_prior for p in parts]),
    )


def choose_blend(
    X: np.ndarray,
    scores: np.ndarray,
    costs: np.ndarray | None,
    labels: list[str],
    tasks: list[str | None],
    *,
    ks: tuple[int, ...],
    Cs: tuple[float, ...],
    category_C: float,
    entropy_threshold: float,
    cost_scale: CostScale | None = None,
    select_cost_weight: float = 0.0,
    shrinkages: tuple[float, ...] = SHRINKAGE_GRID,
    cv: int = 5,
    random_state: int = 0,
    progress: Callable[[str], None] | None = None,
) -> tuple[Blend, OutOfFold]:
    n = X.shape[0]
    truth = np.nan_to_num(scores, nan=0.0)
    folds = KFold(n_splits=min(cv, n), shuffle=True, random_state=random_state)
    oof, order, fold_of = [], [], np.zeros(n, dtype=int)
    neighbours = np.zeros((n, min(OOF_NEIGHBOURS, n)), dtype=int)
    simple = {"category": np.zeros(n, dtype=int), "knn": np.zeros(n, dtype=int)}
    fold_ks = tuple(sorted(set(ks) | {SIMPLE_KNN}))
    for f, (tr, va) in enumerate(folds.split(X)):
        if progress:
            progress(f"fold {f + 1}/{folds.n_splits}")
        parts = fit_parts(
            X[tr], scores[tr], None if costs is None else costs[tr], [labels[i] for i in tr], [tasks[i] for i in tr],
            k_max=max(fold_ks), Cs=Cs, category_C=category_C, random_state=random_state,
        )
        sig = signals(parts, X[va], ks=fold_ks, entropy_threshold=entropy_threshold)
        for name, pick in _simple_policies(parts, sig, scores[tr], None if costs is None else costs[tr]).items():
            simple[name][va] = pick
        oof.append(sig)
        order.append(va)
        fold_of[va] = f
        nb = tr[parts.knn.neighbours(X[va], neighbours.shape[1])]
        neighbours[va, : nb.shape[1]] = nb
        neighbours[va, nb.shape[1] :] = nb[:, -1:]  # a fold smaller than the width: repeat the farthest
    s = _stack(oof, np.concatenate(order))
    # Routing at the chosen cost weight: quality minus the dial's penalty on estimated cost.
    penalty = 0.0
    if select_cost_weight > 0 and s.cost is not None and cost_scale is not None:
        penalty = select_cost_weight * cost_scale(s.cost)
    tiebreak = None if s.cost is None or cost_scale is None else cost_scale(s.cost)
    best: tuple[float, float, Blend] | None = None
    grid = _weight_grid(with_task=s.task_prior is not None)
    for k, C, shrink in itertools.product(ks, Cs, shrinkages):
        for w in grid:
            if w["knn"] == 0 and shrink != shrinkages[0]:
                continue  # the shrinkage only matters to the neighbour term
            blend = Blend(k=k, C=C, weights=w, shrinkage=shrink)
            q = np.clip(blend.apply(s), 0.0, 1.0)
            acc = routing_accuracy(q - penalty, truth, tiebreak)
            brier = float(((q - truth) ** 2).mean())
            if best is None or (round(acc, 9), -brier) > (round(best[0], 9), -best[1]):
                best = (acc, brier, blend)
    assert best is not None
    acc, brier, blend = best
    curve = _cost_curve(np.clip(blend.apply(s), 0.0, 1.0), truth, s.cost, costs, fold_of, cost_scale)
    return (
        Blend(k=blend.k, C=blend.C, weights=blend.weights, cv_accuracy=acc, cv_brier=brier, cost_curve=curve,
              shrinkage=blend.shrinkage, selected_at_cost_weight=select_cost_weight),
        OutOfFold(folds=fold_of, neighbours=neighbours, quality=np.clip(blend.apply(s), 0.0, 1.0), cost=s.cost, policies=simple),
    )


def _cost_curve(q: np.ndarray, truth: np.ndarray, est: np.ndarray | None, cost: np.ndarray | None,
                folds: np.ndarray, scale: CostScale | None) -> list[dict[str, float]]:
    """Out-of-fold accuracy (with its fold standard error) and recorded mean cost of top-1
    routing at each cost weight (experts chosen on *estimated* cost, as at inference)."""
    if cost is None or est is None or scale is None:
        return []
    rows = np.arange(len(truth))
    out = []
    for w in COST_WEIGHT_GRID:
        pick = first_choice(q, est, scale, w)
        acc, se = fold_mean_and_se(truth[rows, pick], folds)
        out.append({"cost_weight": w, "accuracy": acc, "se": se, "mean_cost": float(cost[rows, pick].mean())})
    return out
