"""Shared inputs for the deployment tests: the default composition and a 16-expert one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestrator.config import Config, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "expert-orchestrator"


def sixteen_expert_text() -> str:
    """16 experts: 7B-9B generalists, two 34B models that need tensor parallelism, LoRA adapters."""
    experts = []
    for i in range(16):
        params = 34.0 if i in (3, 11) else [7.6, 8.0, 9.2, 3.8][i % 4]
        e = {
            "name": f"expert-{i:02d}",
            "model": f"hosted_vllm/org/model-{i:02d}",
            "api_base": f"http://127.0.0.1:{8200 + i}/v1",
            "roles": ["expert", "aggregator"] if i == 0 else ["expert"],
            "params_b": params,
        }
        if i % 5 == 4:
            e["lora"] = {"name": f"adapter-{i:02d}", "path": f"/adapters/adapter-{i:02d}"}
        if i % 2 == 0:
            e["memory_gb"] = round(params * 2.4, 1)
        experts.append(e)
    return yaml.safe_dump({"version": 1, "experts": experts, "router": {"category_experts": {"math": ["expert-01", "expert-05"]}}})


@pytest.fixture(scope="session")
def default_config() -> tuple[Config, str]:
    path = REPO / "experts.yaml"
    return load_config(path), path.read_text()


@pytest.fixture(scope="session")
def sixteen_config() -> tuple[Config, str]:
    text = sixteen_expert_text()
    return parse_config(text), text
