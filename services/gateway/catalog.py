"""What a request's ``model`` names: the full pipeline, a category alias, or one expert.

``router/auto`` runs the whole pipeline; ``router/<category>`` runs it restricted to that
category's experts (``router.category_experts`` in experts.yaml, when listed) and uses the category's aggregation mode; an expert's name (or the
name vLLM serves it under) is a direct pass-through to that expert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from orchestrator.config import Config
from orchestrator.errors import ModelNotFound
from orchestrator.protocol import ModelCard, ModelList

__all__ = ["AUTO", "Catalog", "Target"]

AUTO = "router/auto"
PREFIX = "router/"


@dataclass(frozen=True)
class Target:
    kind: Literal["pipeline", "expert"]
    category: str | None = None
    expert: str | None = None


class Catalog:
    def __init__(self, config: Config, router: Any | None = None):
        self.config = config
        self._experts = {e.name: e.name for e in config.experts}
        self._experts.update({e.served_name: e.name for e in config.experts if e.served_name not in self._experts})
        self.categories = self._category_names(config, router)

    @staticmethod
    def _category_names(config: Config, router: Any | None) -> list[str]:
        names = set(getattr(router, "categories_", []) or [])
        return sorted(names | set(config.router.category_experts) | set(config.aggregation.per_category))

    def resolve(self, model: str | None) -> Target:
        if model is None or model == AUTO:
            return Target("pipeline")
        if model.startswith(PREFIX):
            category = model[len(PREFIX) :]
            if category in self.categories:
                return Target("pipeline", category=category)
            raise ModelNotFound(model)
        if model in self._experts:
            return Target("expert", expert=self._experts[model])
        raise ModelNotFound(model)

    def models(self) -> ModelList:
        cards = [ModelCard(id=AUTO, owned_by="orchestrator", root="pipeline")]
        cards += [ModelCard(id=f"{PREFIX}{c}", owned_by="orchestrator", root="pipeline", parent=AUTO) for c in self.categories]
        cards += [
            ModelCard(id=e.name, owned_by="orchestrator", root=e.served_name, max_model_len=e.vllm.max_model_len)
            for e in self.config.experts
        ]
        return ModelList(data=cards)
