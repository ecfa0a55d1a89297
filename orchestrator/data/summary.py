"""What a routing file holds: rows, experts, tasks and, per split, best single expert and oracle."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from orchestrator.data.dataset import RoutingDataset

__all__ = ["CategorySummary", "DatasetSummary", "SplitSummary", "oracle_choice", "summarize"]


@dataclass(frozen=True)
class CategorySummary:
    name: str
    rows: int
    best_expert: str
    best_accuracy: float
    oracle_accuracy: float


@dataclass(frozen=True)
class SplitSummary:
    name: str
    rows: int
    best_single: str
    best_single_accuracy: float
    best_single_mean_cost: float | None
    oracle_accuracy: float
    oracle_mean_cost: float | None
    expert_accuracy: dict[str, float]
    categories: list[CategorySummary]


@dataclass(frozen=True)
class DatasetSummary:
    source: str
    rows: int
    experts: list[str]
    tasks: dict[str, int]
    splits: dict[str, int]
    cost_unit: str | None
    missing_scores: int
    with_answers: bool
    views: list[SplitSummary]
    best_single_chosen_on: str


def oracle_choice(scores: np.ndarray, costs: np.ndarray | None) -> np.ndarray:
    """Per row, the cheapest expert among those with the highest score (cheapest overall if all fail)."""
    s = np.nan_to_num(scores, nan=-1.0)
    best = s.max(axis=1, keepdims=True)
    if costs is None:
        return np.argmax(s >= best, axis=1)
    masked = np.where(s >= best, costs, np.inf)
    return np.argmin(masked, axis=1)


def _view(ds: RoutingDataset, name: str, best_on: RoutingDataset) -> SplitSummary:
    costs, _ = ds.cost_matrix()
    acc = np.nan_to_num(ds.scores, nan=0.0).mean(axis=0) if len(ds) else np.zeros(len(ds.experts))
    ref = np.nan_to_num(best_on.scores, nan=0.0).mean(axis=0) if len(best_on) else acc
    ref_costs, _ = best_on.cost_matrix()
    # Ties in accuracy go to the cheaper expert, as a user would choose.
    order = np.lexsort(((ref_costs.mean(axis=0) if ref_costs is not None else np.zeros(len(ref))), -ref))
    b = int(order[0]) if len(ref) else 0
    rows = np.arange(len(ds))
    pick = oracle_choice(ds.scores, costs) if len(ds) else np.zeros(0, dtype=int)
    oracle_acc = float(np.nan_to_num(ds.scores, nan=0.0)[rows, pick].mean()) if len(ds) else 0.0
    cats: list[CategorySummary] = []
    by_cat: dict[str, list[int]] = {}
    for i, c in enumerate(ds.categories):
        by_cat.setdefault(c or "(none)", []).append(i)
    for c, idx in sorted(by_cat.items()):
        sub = np.nan_to_num(ds.scores[idx], nan=0.0)
        m = sub.mean(axis=0)
        cats.append(CategorySummary(c, len(idx), ds.experts[int(m.argmax())], float(m.max()), float(sub.max(axis=1).mean())))
    return SplitSummary(
        name=name,
        rows=len(ds),
        best_single=ds.experts[b],
        best_single_accuracy=float(acc[b]) if len(ds) else 0.0,
        best_single_mean_cost=float(costs[:, b].mean()) if costs is not None and len(ds) else None,
        oracle_accuracy=oracle_acc,
        oracle_mean_cost=float(costs[rows, pick].mean()) if costs is not None and len(ds) else None,
        expert_accuracy={e: float(a) for e, a in zip(ds.experts, acc, strict=True)},
        categories=cats,
    )


def summarize(ds: RoutingDataset) -> DatasetSummary:
    """Rows, experts, tasks and, per split, best single expert and oracle.

    The best single expert is chosen on the ``train`` split when there is one (as a router
    would be), and reported on every view; the oracle picks the cheapest correct expert.
    """
    splits = Counter(s or "(none)" for s in ds.splits)
    train = ds.split("train") if "train" in splits else ds
    views = [_view(ds, "all", train)]
    for s in sorted(splits):
        if s != "(none)" and len(splits) > 1 or s in ("train", "test"):
            views.append(_view(ds.split(s), s, train))
    _, unit = ds.cost_matrix()
    return DatasetSummary(
        source=ds.source,
        rows=len(ds),
        experts=list(ds.experts),
        tasks=dict(Counter(t or "(none)" for t in ds.tasks).most_common()),
        splits=dict(splits),
        cost_unit=unit,
        missing_scores=int(np.isnan(ds.scores).sum()),
        with_answers=ds.has_answers,
        views=views,
        best_single_chosen_on="train" if "train" in splits else "all",
    )
