"""Score a set of policies on one dataset: outcomes, headline metrics, intervals, strong/weak curves.

This is the part of an evaluation that needs no router: give it policies (anything with
``choose``) and it returns an :class:`EvalReport`. The runner adds fitting, embedding and the
cost-dial sweep around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestrator.data import RoutingDataset
from orchestrator.evaluation.costs import CostSignal
from orchestrator.evaluation.metrics import bootstrap_means, cost_quality_auc, gap_recovered, percentile_ci, strong_weak_curve
from orchestrator.evaluation.outcomes import RowOutcomes, Selection, score_selection
from orchestrator.evaluation.policies import Policy
from orchestrator.evaluation.report import EvalReport, PolicyReport, StrongWeakReport, policy_report

__all__ = ["Scored", "row_categories", "score_policies"]

CURVE_POINTS = 101  # strong/weak curves are thinned to this many points in the report


@dataclass(frozen=True)
class Scored:
    """A policy's selection and its per-row outcomes (kept for intervals and plots)."""

    selection: Selection
    outcomes: RowOutcomes


def row_categories(ds: RoutingDataset) -> list[str]:
    """The category of each row, else its task, else ``(none)``."""
    return [c or t or "(none)" for c, t in zip(ds.categories, ds.tasks, strict=True)]


def _expert_means(ds: RoutingDataset, costs: CostSignal) -> tuple[dict[str, float], dict[str, float] | None]:
    acc = np.nan_to_num(ds.scores, nan=0.0).mean(axis=0) if len(ds) else np.zeros(len(ds.experts))
    cost = costs.matrix.mean(axis=0) if costs.matrix is not None and len(ds) else None
    return (
        {e: float(a) for e, a in zip(ds.experts, acc, strict=True)},
        None if cost is None else {e: float(c) for e, c in zip(ds.experts, cost, strict=True)},
    )


def _add_intervals(reports: dict[str, PolicyReport], scored: dict[str, Scored], baseline: str | None, *, n_boot: int, seed: int) -> None:
    """Paired percentile bootstrap over rows: every policy sees the same resamples."""
    names = list(scored)
    cols = [scored[p].outcomes.first for p in names] + [scored[p].outcomes.coverage for p in names]
    has_cost = all(scored[p].outcomes.cost is not None for p in names)
    if has_cost:
        cols += [scored[p].outcomes.cost for p in names]  # type: ignore[misc]
    boot = bootstrap_means(np.column_stack(cols), n_boot=n_boot, seed=seed)
    k = len(names)
    for i, p in enumerate(names):
        ci = {"accuracy": percentile_ci(boot[:, i]), "coverage": percentile_ci(boot[:, k + i])}
        if has_cost:
            ci["mean_cost"] = percentile_ci(boot[:, 2 * k + i])
        if baseline in scored and p != baseline:
            ci["accuracy_delta_vs_best_single"] = percentile_ci(boot[:, i] - boot[:, names.index(baseline)])
        reports[p].ci95 = ci


def _strong_weak(ds: RoutingDataset, scored: dict[str, Scored], strong: str, reports: dict[str, PolicyReport]) -> StrongWeakReport | None:
    """RouteLLM's APGR and CPT for every policy that exposes a predicted quality (two experts only)."""
    if len(ds.experts) != 2 or strong not in ds.experts:
        return None
    s = ds.experts.index(strong)
    w = 1 - s
    scores = np.nan_to_num(ds.scores, nan=0.0)
    out = StrongWeakReport(
        strong=strong, weak=ds.experts[w], strong_accuracy=float(scores[:, s].mean()), weak_accuracy=float(scores[:, w].mean())
    )
    for name, sc in scored.items():
        q = sc.selection.quality
        if q is None:
            continue
        curve = strong_weak_curve(q[:, s] - q[:, w], scores[:, s], scores[:, w])
        if curve is None:
            continue
        reports[name].apgr = curve.apgr
        cpt50, cpt80 = curve.cpt(0.5), curve.cpt(0.8)
        reports[name].cpt50 = None if cpt50 is None else 100 * cpt50
        reports[name].cpt80 = None if cpt80 is None else 100 * cpt80
        pick = np.unique(np.linspace(0, len(curve.strong_fraction) - 1, CURVE_POINTS).round().astype(int))
        out.curves[name] = ((100 * curve.strong_fraction[pick]).tolist(), curve.accuracy[pick].tolist())
    return out


def score_policies(
    ds: RoutingDataset,
    policies: dict[str, Policy],
    *,
    costs: CostSignal,
    embeddings: np.ndarray | None,
    best_single: str | None = None,
    oracle: str | None = "oracle",
    strong_expert: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    selections: dict[str, Selection] | None = None,
) -> tuple[EvalReport, dict[str, Scored]]:
    """Evaluate every policy on ``ds``; ``best_single``/``oracle`` name the reference policies.

    ``strong_expert`` (two-expert sets) is RouteLLM's strong model, normally the best single
    expert on train; by default the more accurate expert on ``ds``.
    """
    cats = row_categories(ds)
    scored: dict[str, Scored] = {}
    reports: dict[str, PolicyReport] = {}
    for name, policy in policies.items():
        sel = (selections or {}).get(name) or policy.choose(ds, embeddings)
        out = score_selection(ds, sel, costs.matrix)
        scored[name] = Scored(sel, out)
        reports[name] = policy_report(
            out, sel, experts=ds.experts, categories=cats, costs=costs, has_answers=ds.has_answers, description=policy.description
        )
    if best_single in reports and oracle in reports:
        lo, hi = reports[best_single].accuracy, reports[oracle].accuracy
        for r in reports.values():
            r.gap_recovered = gap_recovered(r.accuracy, lo, hi)
    if n_boot > 0 and len(ds):
        _add_intervals(reports, scored, best_single, n_boot=n_boot, seed=seed)
    acc, mean_cost = _expert_means(ds, costs)
    report = EvalReport(
        dataset=ds.source,
        split="",
        n=len(ds),
        experts=list(ds.experts),
        policies=reports,
        seed=seed,
        cost_unit=costs.unit,
        cost_source=costs.source,
        expert_accuracy=acc,
        expert_mean_cost=mean_cost,
        category_rows={c: cats.count(c) for c in sorted(set(cats))},
    )
    report.strong_weak = _strong_weak(ds, scored, strong_expert or _strong_of(acc), reports)
    if mean_cost is not None:
        report.cost_quality_auc = _policy_aucs(reports, acc, mean_cost)
    return report, scored


def _strong_of(acc: dict[str, float]) -> str:
    """Without a given strong expert, the more accurate one on the evaluated rows."""
    return max(acc, key=lambda e: acc[e])


def _policy_aucs(reports: dict[str, PolicyReport], acc: dict[str, float], cost: dict[str, float]) -> dict[str, float | None]:
    """RouterBench-style AUC of each policy's point joined with the single experts' points."""
    ec, ea = np.array(list(cost.values())), np.array([acc[e] for e in cost])
    lo, hi = float(ec.min()), float(ec.max())
    out: dict[str, float | None] = {"experts_only": cost_quality_auc(ec, ea, lo, hi)}
    for name, r in reports.items():
        if r.mean_cost is not None:
            out[name] = cost_quality_auc(np.r_[ec, r.mean_cost], np.r_[ea, r.accuracy], lo, hi)
    return out
