"""Which cost signal a report uses, and how it is labelled."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from orchestrator.config import parse_config
from orchestrator.data import load_dataset
from orchestrator.evaluation.costs import resolve_costs

CONFIG = """
version: 1
experts:
  - {name: small, model: hosted_vllm/s, roles: [expert, aggregator], price: {input_per_mtok: 1.0, output_per_mtok: 2.0}}
  - {name: large, model: hosted_vllm/l, roles: [expert], price: {input_per_mtok: 10.0, output_per_mtok: 20.0}}
"""


def _file(tmp_path: Path, outcome: dict) -> Path:
    row = {"id": "1", "prompt": "x" * 400, "split": "test", "experts": {"small": {"score": 1, **outcome}, "large": {"score": 0, **outcome}}}
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(row) + "\n")
    return path


def test_recorded_usd_wins_over_config_prices(tmp_path: Path):
    costs = resolve_costs(load_dataset(_file(tmp_path, {"cost_usd": 0.5, "output_tokens": 10})), parse_config(CONFIG))
    assert costs.unit == "usd" and costs.source == "recorded cost_usd"
    assert costs.matrix.tolist() == [[0.5, 0.5]]


def test_config_prices_times_recorded_tokens_estimate_usd(tmp_path: Path):
    ds = load_dataset(_file(tmp_path, {"output_tokens": 1000}))
    costs = resolve_costs(ds, parse_config(CONFIG))
    # 400 prompt chars = 100 input tokens; small: (100 * 1 + 1000 * 2) / 1e6; large: ten times that.
    assert costs.unit == "usd" and costs.source.startswith("estimated")
    assert costs.matrix[0, ds.expert_index("small")] == pytest.approx(2100e-6)
    assert costs.matrix[0, ds.expert_index("large")] == pytest.approx(21000e-6)


def test_without_config_a_proxy_is_labelled_with_its_unit(tmp_path: Path):
    costs = resolve_costs(load_dataset(_file(tmp_path, {"output_chars": 80})))
    assert costs.unit == "output_chars" and not costs.is_usd
    assert np.array_equal(costs.matrix, [[80.0, 80.0]])


def test_no_cost_signal_at_all(tmp_path: Path):
    costs = resolve_costs(load_dataset(_file(tmp_path, {})))
    assert costs.matrix is None and costs.unit is None
