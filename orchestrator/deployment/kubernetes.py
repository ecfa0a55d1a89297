"""Values for the Helm chart in ``deploy/helm/expert-orchestrator`` from experts.yaml and a GPU plan.

The chart is static and reviewed like code; what depends on the composition (one vLLM
Deployment per GPU group, one Service per expert, the gateway's experts.yaml, the
category -> experts map the alerts use) is rendered here into one values file.
"""

from __future__ import annotations

from typing import Any

from orchestrator.config import Config
from orchestrator.deployment.packing import GpuPlan

__all__ = ["REDIS_URL_ENV", "helm_values", "service_name"]

REDIS_URL_ENV = "ORCHESTRATOR_REDIS_URL"


def service_name(expert_name: str) -> str:
    """A DNS-1035 label for the expert's Service (``qwen2.5-7b`` -> ``qwen2-5-7b``)."""
    out = "".join(c if c.isalnum() else "-" for c in expert_name.lower()).strip("-")
    if not out[:1].isalpha():
        out = f"e-{out}"
    return out[:63].rstrip("-")


def helm_values(config: Config, plan: GpuPlan, gateway_config: str, args_for: Any) -> dict[str, Any]:
    """``args_for(expert, placement)`` gives the ``vllm serve`` arguments of one expert."""
    groups = []
    for gpus, placements in plan.groups():
        experts = []
        for p in placements:
            e = config.expert(p.expert)
            entry: dict[str, Any] = {
                "name": e.name,
                "service": service_name(e.name),
                "port": e.port or 8000,
                "args": args_for(e, p),
                "sleepMode": e.vllm.enable_sleep_mode,
            }
            if e.api_key_env:
                entry["apiKeyEnv"] = e.api_key_env
            experts.append(entry)
        groups.append({"name": "gpu" + "-".join(str(g) for g in gpus), "gpus": len(gpus), "experts": experts})
    categories = {c: [service_name(n) for n in names] for c, names in config.router.category_experts.items()}
    if not categories:
        # Without a pinned category map the alert watches the whole fleet as one category.
        categories = {"all": [service_name(e.name) for e in config.experts]}
    return {
        "gateway": {"port": config.gateway.port, "config": gateway_config},
        "experts": {"groups": groups},
        "monitoring": {"categories": categories},
    }
