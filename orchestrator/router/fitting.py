"""Everything ``TwoLevelRouter.fit`` derives from its inputs before learning: the expert set
(data ∩ config, mismatches reported), embeddings, category labels, the cost signal, and the
category -> expert and category -> aggregator maps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrator.errors import DatasetError, Problem
from orchestrator.router.parts import Parts, category_label, rank_experts

__all__ = ["FitInputs", "prepare_inputs"]

CONFIG_OUTPUT_TOKENS = 300  # assumed answer length when costing from config prices


@dataclass
class FitInputs:
    experts: list[str]
    X: np.ndarray
    scores: np.ndarray
    costs: np.ndarray | None
    cost_unit: str | None
    expert_cost: np.ndarray | None
    labels: list[str]
    tasks: list[str | None]
    expert_report: dict[str, list[str]]
    config: Any = None
    extra_X: np.ndarray | None = None
    extra_labels: list[str] | None = None

    def _order(self, values: np.ndarray) -> list[int]:
        return rank_experts(values, self.scores, self.expert_cost)

    def category_expert(self, parts: Parts, fallback: str) -> dict[str, str]:
        """h(category): the best expert per category on the training rows (CoE mapping)."""
        out = {c: self.experts[self._order(parts.category_table[i])[0]] for i, c in enumerate(parts.category.classes_)}
        out[fallback] = self.experts[self._order(parts.overall)[0]]
        overrides = self.config.router.category_experts if self.config is not None else {}
        for cat, names in overrides.items():
            usable = [n for n in names if n in self.experts]
            if usable:
                out[cat] = usable[0]
        return out

    def aggregators(self, parts: Parts, fallback: str) -> dict[str, str]:
        """Per category, the expert with role ``aggregator`` that scores best there (any expert without a config)."""
        pool = list(range(len(self.experts)))
        if self.config is not None:
            roles = {e.name: e.roles for e in self.config.experts}
            with_role = [j for j, n in enumerate(self.experts) if "aggregator" in roles.get(n, [])]
            pool = with_role or pool

        def best(values: np.ndarray) -> str:
            return self.experts[next(j for j in self._order(values) if j in pool)]

        out = {c: best(parts.category_table[i]) for i, c in enumerate(parts.category.classes_)}
        out[fallback] = best(parts.overall)
        return out


def _reconcile(dataset, config) -> tuple[Any, dict[str, list[str]]]:
    report = {"used": list(dataset.experts), "only_in_data": [], "only_in_config": []}
    if config is None:
        return dataset, report
    names = config.expert_names
    report["only_in_data"] = [e for e in dataset.experts if e not in names]
    report["only_in_config"] = [e for e in names if e not in dataset.experts]
    used = [e for e in dataset.experts if e in names]
    if not used:
        raise DatasetError(Problem(
            path="experts",
            message=f"no expert of the data ({', '.join(dataset.experts)}) is in the config ({', '.join(names)})",
            source=dataset.source,
        ))
    report["used"] = used
    return dataset.select_experts(used), report


def _config_costs(dataset, config) -> np.ndarray:
    """Expected USD per call from config prices: prompt tokens ~ chars / 4, a fixed answer length."""
    tokens_in = np.array([len(p) / 4.0 for p in dataset.prompts])
    per_expert = [config.expert(e).price for e in dataset.experts]
    return np.stack([tokens_in * p.input_per_mtok / 1e6 + CONFIG_OUTPUT_TOKENS * p.output_per_mtok / 1e6 for p in per_expert], axis=1)


def prepare_inputs(router, dataset, categories, config, embeddings, category_embeddings, progress) -> FitInputs:
    if len(dataset) == 0:
        raise DatasetError(Problem(path="", message="no training rows", source=dataset.source))
    ds, report = _reconcile(dataset, config)
    say = progress or (lambda _msg: None)
    if embeddings is None:
        say(f"embedding {len(ds)} prompts")
        X = router.embed(ds.prompts)
    else:
        X = np.asarray(embeddings, dtype=np.float32)
        if X.shape[0] != len(ds):
            raise ValueError(f"embeddings has {X.shape[0]} rows for {len(ds)} prompts")
    costs, unit = ds.cost_matrix()
    if costs is None and config is not None and any(config.expert(e).price.output_per_mtok > 0 for e in ds.experts):
        costs, unit = _config_costs(ds, config), "usd (config prices)"
    extra_X = extra_labels = None
    if categories is not None:
        extra_labels = list(categories.categories)
        if category_embeddings is not None:
            extra_X = np.asarray(category_embeddings, dtype=np.float32)
        else:
            say(f"embedding {len(extra_labels)} category-labelled queries")
            extra_X = router.embed(list(categories.texts))
    fallback = router.fallback_category
    labels = [category_label(c, t, fallback) for c, t in zip(ds.categories, ds.tasks, strict=True)]
    return FitInputs(
        experts=list(ds.experts),
        X=X,
        scores=ds.scores,
        costs=costs,
        cost_unit=unit,
        expert_cost=None if costs is None else costs.mean(axis=0),
        labels=labels,
        tasks=list(ds.tasks),
        expert_report=report,
        config=config,
        extra_X=extra_X,
        extra_labels=extra_labels,
    )
