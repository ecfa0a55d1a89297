"""The cost signal an evaluation reports: recorded USD, a price estimate, or a labelled proxy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestrator.config import Config
from orchestrator.data import RoutingDataset

__all__ = ["CHARS_PER_TOKEN", "CostSignal", "resolve_costs"]

# A rough, widely used ratio for English text; only used when tokens were not recorded.
CHARS_PER_TOKEN = 4.0


@dataclass(frozen=True)
class CostSignal:
    """``matrix[i, j]``: what calling expert j on row i costs, in ``unit``; ``source`` says how it was obtained."""

    matrix: np.ndarray | None
    unit: str | None
    source: str

    @property
    def is_usd(self) -> bool:
        return self.unit == "usd"


def _estimate_from_prices(ds: RoutingDataset, config: Config) -> CostSignal | None:
    """Config prices x recorded output tokens (or chars / 4), plus the prompt's chars / 4 as input."""
    out_tokens, how = ds.output_tokens, "recorded output tokens"
    if np.isnan(out_tokens).all():
        if np.isnan(ds.output_chars).all():
            return None
        out_tokens, how = ds.output_chars / CHARS_PER_TOKEN, f"output chars / {CHARS_PER_TOKEN:g}"
    out_tokens = np.nan_to_num(out_tokens, nan=float(np.nanmean(out_tokens)))
    in_tokens = np.array([len(p) / CHARS_PER_TOKEN for p in ds.prompts])[:, None]
    price_in = np.array([config.expert(e).price.input_per_mtok for e in ds.experts])[None, :]
    price_out = np.array([config.expert(e).price.output_per_mtok for e in ds.experts])[None, :]
    matrix = (in_tokens * price_in + out_tokens * price_out) / 1e6
    return CostSignal(matrix, "usd", f"estimated: experts.yaml prices x {how} (+ prompt chars / {CHARS_PER_TOKEN:g} as input)")


def resolve_costs(ds: RoutingDataset, config: Config | None = None) -> CostSignal:
    """Recorded USD first; else, with a config pricing every expert, a USD estimate; else a proxy."""
    matrix, unit = ds.cost_matrix()
    if unit == "usd":
        return CostSignal(matrix, unit, "recorded cost_usd")
    if config is not None and all(e in config.expert_names for e in ds.experts):
        estimate = _estimate_from_prices(ds, config)
        if estimate is not None:
            return estimate
    if matrix is None:
        return CostSignal(None, None, "no cost recorded")
    return CostSignal(matrix, unit, f"recorded {unit} (a proxy, not USD)")
