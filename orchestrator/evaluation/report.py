"""The evaluation report: pydantic models (the JSON contract) and how one policy's outcomes become numbers.

The JSON shape is a contract scripts and CI read: ``dataset, split, n, experts`` and per policy
``accuracy, mean_cost_usd, calls_per_query, coverage``. Fields may be added, never renamed.
Infinite values (cost-of-pass of a policy that is never right) serialise as ``null``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.evaluation.costs import CostSignal
from orchestrator.evaluation.metrics import cost_of_pass
from orchestrator.evaluation.outcomes import RowOutcomes, Selection

__all__ = [
    "REPORT_VERSION",
    "CostQualityPoint",
    "EvalReport",
    "PolicyReport",
    "StrongWeakReport",
    "policy_report",
]

REPORT_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", ser_json_inf_nan="null")


class PolicyReport(_Model):
    description: str = ""
    accuracy: float = Field(description="score of the most preferred chosen expert (best-by-predicted)")
    mean_cost_usd: float | None = Field(description="mean cost per query in USD; null when the cost unit is not USD")
    calls_per_query: float
    coverage: float | None = Field(description="some chosen expert was right: an upper bound for any aggregator")
    vote_accuracy: float | None = Field(default=None, description="majority over recorded answers of the chosen experts")
    vote_answered: float | None = Field(default=None, description="share of rows where a chosen expert recorded an answer")
    mean_cost: float | None = None
    total_cost: float | None = None
    cost_unit: str | None = None
    cost_of_pass: float | None = Field(default=None, description="mean cost / accuracy, in cost_unit; inf (null) if never right")
    gap_recovered: float | None = Field(default=None, description="(acc - best_single) / (oracle - best_single)")
    mean_k: float = 1.0
    max_k: int = 1
    ci95: dict[str, tuple[float, float]] = Field(default_factory=dict)
    traffic: dict[str, float] = Field(default_factory=dict, description="share of expert calls per expert")
    category_accuracy: dict[str, float] = Field(default_factory=dict)
    category_traffic: dict[str, dict[str, float]] = Field(default_factory=dict)
    routed_category_share: dict[str, float] | None = Field(default=None, description="share of rows per category the policy routed under")
    apgr: float | None = None
    cpt50: float | None = Field(default=None, description="% calls to the strong expert needed to reach 50% PGR")
    cpt80: float | None = None


class StrongWeakReport(_Model):
    strong: str
    weak: str
    strong_accuracy: float
    weak_accuracy: float
    curves: dict[str, tuple[list[float], list[float]]] = Field(
        default_factory=dict, description="policy -> (% calls to strong, accuracy), thinned for plotting"
    )


class CostQualityPoint(_Model):
    cost_weight: float
    accuracy: float
    mean_cost: float
    calls_per_query: float
    coverage: float | None = None


class EvalReport(_Model):
    version: int = REPORT_VERSION
    dataset: str
    split: str
    n: int
    experts: list[str]
    policies: dict[str, PolicyReport]
    n_train: int = 0
    seed: int = 0
    k: int | None = None
    cost_unit: str | None = None
    cost_source: str = ""
    best_single_expert: str | None = None
    expert_accuracy: dict[str, float] = Field(default_factory=dict)
    expert_mean_cost: dict[str, float] | None = None
    category_rows: dict[str, int] = Field(default_factory=dict)
    strong_weak: StrongWeakReport | None = None
    cost_quality: list[CostQualityPoint] = Field(default_factory=list, description="the router's cost dial sweep")
    cost_quality_auc: dict[str, float | None] = Field(default_factory=dict)
    router: dict[str, object] = Field(default_factory=dict, description="how the router was obtained")
    escalation: dict[str, Any] | None = Field(default=None, description="escalation (cascade) policies: see orchestrator.escalation")
    timings_s: dict[str, float] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


def _shares(counter: Counter[str], total: float) -> dict[str, float]:
    return {k: v / total for k, v in sorted(counter.items(), key=lambda kv: -kv[1])} if total else {}


def _traffic(chosen: list[list[int]], categories: list[str], experts: list[str]) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    overall: Counter[str] = Counter()
    per_cat: dict[str, Counter[str]] = defaultdict(Counter)
    for cols, cat in zip(chosen, categories, strict=True):
        for j in cols:
            overall[experts[j]] += 1
            per_cat[cat][experts[j]] += 1
    total = sum(overall.values())
    return _shares(overall, total), {c: _shares(cnt, sum(cnt.values())) for c, cnt in sorted(per_cat.items())}


def policy_report(
    out: RowOutcomes,
    selection: Selection,
    *,
    experts: list[str],
    categories: list[str],
    costs: CostSignal,
    has_answers: bool,
    description: str = "",
) -> PolicyReport:
    """Headline numbers, traffic and per-category accuracy of one policy (no intervals yet)."""
    accuracy = float(out.first.mean()) if len(out.first) else 0.0
    mean_cost = float(out.cost.mean()) if out.cost is not None and len(out.cost) else None
    traffic, category_traffic = _traffic(out.chosen, categories, experts)
    by_cat: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(categories):
        by_cat[c].append(i)
    routed = None
    if selection.categories is not None and any(c is not None for c in selection.categories):
        routed = _shares(Counter(c or "(none)" for c in selection.categories), len(selection.categories))
    return PolicyReport(
        description=description,
        accuracy=accuracy,
        mean_cost_usd=mean_cost if costs.is_usd else None,
        calls_per_query=float(out.calls.mean()) if len(out.calls) else 0.0,
        coverage=float(out.coverage.mean()) if len(out.coverage) else None,
        vote_accuracy=float(out.vote.mean()) if has_answers and len(out.vote) else None,
        vote_answered=float(out.vote_answered.mean()) if has_answers and len(out.vote) else None,
        mean_cost=mean_cost,
        total_cost=float(out.cost.sum()) if out.cost is not None else None,
        cost_unit=costs.unit,
        cost_of_pass=cost_of_pass(mean_cost, accuracy),
        mean_k=float(out.calls.mean()) if len(out.calls) else 0.0,
        max_k=int(out.calls.max()) if len(out.calls) else 0,
        traffic=traffic,
        category_accuracy={c: float(np.mean(out.first[idx])) for c, idx in sorted(by_cat.items())},
        category_traffic=category_traffic,
        routed_category_share=routed,
    )
