"""A Ray Serve LLM config: one application per expert (``ray.serve.llm:build_openai_app``).

One application per expert, each under its own route prefix, keeps one OpenAI base URL per
expert, which is what the gateway's experts.yaml expects (one ``api_base`` per expert). Ray
Serve scales replicas itself, so the gateway's residency manager (sleep/wake) is switched off
for this target.
"""

from __future__ import annotations

from typing import Any

from orchestrator.config import Config
from orchestrator.deployment.kubernetes import service_name
from orchestrator.deployment.packing import GpuPlan

__all__ = ["ray_api_base", "ray_serve_config"]


def ray_api_base(serve_url: str, expert_name: str) -> str:
    return f"{serve_url.rstrip('/')}/{service_name(expert_name)}/v1"


def llm_config(config: Config, plan: GpuPlan, name: str) -> dict[str, Any]:
    """The ``LLMConfig`` of one expert, as plain data ``ray.serve.llm.LLMConfig`` validates."""
    e = config.expert(name)
    p = plan.placement(name)
    engine: dict[str, Any] = {
        "tensor_parallel_size": p.tensor_parallel_size,
        "gpu_memory_utilization": p.gpu_memory_utilization,
        "max_num_seqs": e.vllm.max_num_seqs,
    }
    if e.vllm.max_model_len:
        engine["max_model_len"] = e.vllm.max_model_len
    if not e.vllm.enable_prefix_caching:
        engine["enable_prefix_caching"] = False
    out: dict[str, Any] = {
        "model_loading_config": {"model_id": e.served_name, "model_source": e.served_name},
        "engine_kwargs": engine,
        "deployment_config": {
            "autoscaling_config": {"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": e.max_concurrency},
        },
    }
    if e.lora is not None:
        engine["enable_lora"] = True
        out["lora_config"] = {"dynamic_lora_loading_path": e.lora.path.rsplit("/", 1)[0] or e.lora.path, "max_num_adapters_per_replica": 1}
    return out


def ray_serve_config(config: Config, plan: GpuPlan) -> dict[str, Any]:
    apps = [
        {
            "name": service_name(e.name),
            "route_prefix": f"/{service_name(e.name)}",
            "import_path": "ray.serve.llm:build_openai_app",
            "args": {"llm_configs": [llm_config(config, plan, e.name)]},
        }
        for e in config.experts
    ]
    return {"applications": apps}
