"""Test helpers shared by the expert-client and scheduling tests."""

from __future__ import annotations

from typing import Any

from orchestrator.config import Config


def make_config(
    ports: list[int],
    *,
    host: str = "127.0.0.1",
    provider: str = "hosted_vllm",
    scheduler: dict[str, Any] | None = None,
    **expert_fields: Any,
) -> Config:
    """A valid composition of ``len(ports)`` experts named e0, e1, ... (e0 is also the aggregator)."""
    experts = [
        {
            "name": f"e{i}",
            "model": f"{provider}/model-{i}",
            "api_base": f"http://{host}:{port}/v1",
            "roles": ["expert", "aggregator"] if i == 0 else ["expert"],
            "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
            **expert_fields,
        }
        for i, port in enumerate(ports)
    ]
    return Config.model_validate({"experts": experts, "scheduler": scheduler or {}})


class FakeClock:
    """A monotonic clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
