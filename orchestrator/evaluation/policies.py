"""The seam between routing code and evaluation: a policy turns rows into chosen expert columns.

Evaluation never reimplements a router: :class:`RouterPolicy` replays the router's own
``route()`` (the code the gateway runs) and reads back its decisions. The oracle and fixed
policies need no learning and exist for reference points and tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from orchestrator.data import RoutingDataset, oracle_choice
from orchestrator.evaluation.outcomes import Selection

__all__ = ["FixedPolicy", "OraclePolicy", "Policy", "RouterPolicy"]


@runtime_checkable
class Policy(Protocol):
    """Anything that chooses experts for every row of a dataset (most preferred first)."""

    name: str
    description: str

    def choose(self, ds: RoutingDataset, embeddings: np.ndarray | None) -> Selection: ...


@dataclass
class FixedPolicy:
    """Always the same experts, in the given order (a single expert, or a fixed panel)."""

    name: str
    columns: list[int]
    description: str = "fixed experts"

    def choose(self, ds: RoutingDataset, embeddings: np.ndarray | None) -> Selection:
        return Selection(chosen=[list(self.columns) for _ in range(len(ds))])


@dataclass
class OraclePolicy:
    """Per row, the cheapest expert with the best recorded score (it reads the answers key)."""

    cost_matrix: np.ndarray | None
    name: str = "oracle"
    description: str = "cheapest correct expert per row (reads the recorded scores)"

    def choose(self, ds: RoutingDataset, embeddings: np.ndarray | None) -> Selection:
        pick = oracle_choice(ds.scores, self.cost_matrix) if len(ds) else np.zeros(0, dtype=int)
        return Selection(chosen=[[int(j)] for j in pick], quality=np.nan_to_num(ds.scores, nan=0.0))


@dataclass
class RouterPolicy:
    """A fitted router (two-level or a baseline) replayed through its own ``route()``.

    ``route_kwargs`` are passed verbatim (``mode``, ``k``, ``cost_weight``...); None values are
    dropped so baselines without a ``mode`` keep their own defaults.
    """

    name: str
    router: Any
    route_kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    with_quality: bool = False
    batch_size: int = 4096

    def choose(self, ds: RoutingDataset, embeddings: np.ndarray | None) -> Selection:
        kwargs = {k: v for k, v in self.route_kwargs.items() if v is not None}
        col = {name: j for j, name in enumerate(ds.experts)}
        chosen: list[list[int]] = []
        categories: list[str | None] = []
        # Batches bound the memory of decision objects and of the router's neighbour search.
        for start, stop in self._batches(len(ds)):
            emb = None if embeddings is None else embeddings[start:stop]
            for d in self.router.route(ds.prompts[start:stop], embeddings=emb, **kwargs):
                chosen.append([col[e] for e in d.chosen])
                categories.append(getattr(d, "category", None))
        quality = None
        if self.with_quality:
            parts = [
                self.router.predict_quality(ds.prompts[a:b], embeddings=None if embeddings is None else embeddings[a:b])
                for a, b in self._batches(len(ds))
            ]
            quality = np.concatenate(parts).astype(float)[:, [self._router_col(e) for e in ds.experts]]
        return Selection(chosen=chosen, quality=quality, categories=categories)

    def _batches(self, n: int) -> list[tuple[int, int]]:
        return [(a, min(a + self.batch_size, n)) for a in range(0, n, self.batch_size)] or [(0, 0)]

    def _router_col(self, expert: str) -> int:
        return list(self.router.experts_).index(expert)
