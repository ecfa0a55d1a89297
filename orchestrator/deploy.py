"""Render how to serve the composition with real vLLM, per target: ``vllm`` (a launch script
with experts packed onto GPUs by memory), ``compose`` (one host), ``k8s`` (values for the Helm
chart in ``deploy/helm``) and ``ray`` (a Ray Serve LLM config plus the gateway's experts.yaml).

vLLM is never a dependency of this package (its wheel pins a CUDA torch); experts run in
vLLM's own image or environment and the gateway reaches them over HTTP. What is rendered
here is plain text a platform team can review and commit.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.config import Config, ExpertConfig
from orchestrator.deployment.kubernetes import REDIS_URL_ENV, helm_values, service_name
from orchestrator.deployment.packing import GpuPlan, Placement, pack
from orchestrator.deployment.ray_serve import ray_api_base, ray_serve_config

__all__ = ["TARGETS", "RenderedDeployment", "render", "vllm_args", "write"]

TARGETS = ("vllm", "compose", "k8s", "ray")

VLLM_IMAGE = "vllm/vllm-openai:v0.11.0"


def vllm_args(expert: ExpertConfig, placement: Placement | None = None) -> list[str]:
    """``vllm serve`` arguments for one expert (model first; the image's entrypoint adds ``serve``).
    With a ``placement`` the memory fraction and tensor-parallel size come from the GPU packing."""
    v = expert.vllm
    args = [expert.served_name, "--served-model-name", expert.served_name, "--host", "0.0.0.0", "--port", str(expert.port or 8000)]
    if v.max_model_len:
        args += ["--max-model-len", str(v.max_model_len)]
    utilization = placement.gpu_memory_utilization if placement else v.gpu_memory_utilization
    tp = placement.tensor_parallel_size if placement else v.tensor_parallel_size
    args += ["--gpu-memory-utilization", f"{utilization:g}", "--max-num-seqs", str(v.max_num_seqs)]
    if tp > 1:
        args += ["--tensor-parallel-size", str(tp)]
    if v.enable_sleep_mode:
        args.append("--enable-sleep-mode")
    if not v.enable_prefix_caching:
        args.append("--no-enable-prefix-caching")
    if expert.lora is not None:
        args += ["--enable-lora", "--lora-modules", f"{expert.lora.name}={expert.lora.path}"]
    if expert.api_key_env:
        args += ["--api-key", f"${{{expert.api_key_env}}}"]
    return args + list(v.extra_args)


def _env(expert: ExpertConfig) -> dict[str, str]:
    # Sleep/wake endpoints exist only in dev mode (every vLLM version up to 0.33).
    env = {"HF_TOKEN": "${HF_TOKEN:-}"}
    if expert.vllm.enable_sleep_mode:
        env["VLLM_SERVER_DEV_MODE"] = "1"
    if expert.api_key_env:
        env[expert.api_key_env] = f"${{{expert.api_key_env}}}"
    return env


def _launch_script(config: Config, plan: GpuPlan) -> str:
    lines = [
        "#!/usr/bin/env bash",
        "# One vLLM server per expert on this host (rendered from experts.yaml; do not edit by hand).",
        "# Each server polls ready on GET /health; the gateway waits for all of them via GET /ready.",
        f"# GPU plan: {plan.gpus_used} GPU(s) of {plan.gpu_memory_gb:g} GB; "
        + "; ".join(f"GPU {g}: {plan.used_gb(g):g} GB" for g in range(plan.gpus_used)),
        "set -euo pipefail",
        "",
    ]
    for e in config.experts:
        p = plan.placement(e.name)
        env = " ".join([f"CUDA_VISIBLE_DEVICES={','.join(map(str, p.gpus))}"] + [f"{k}={v}" for k, v in _env(e).items() if k != "HF_TOKEN"])
        cmd = " ".join(shlex.quote(a) if not a.startswith("${") else a for a in vllm_args(e, p))
        lines.append(f"# {e.name}: {e.description or e.model} ({p.memory_gb:g} GB on GPU {','.join(map(str, p.gpus))})")
        lines.append(f"{env + ' ' if env else ''}vllm serve {cmd} > logs/{e.name}.log 2>&1 &")
        lines.append("")
    lines.append("wait")
    return "\n".join(lines) + "\n"


def _compose(config: Config, plan: GpuPlan) -> dict:
    services: dict[str, dict] = {}
    for e in config.experts:
        port = e.port or 8000
        p = plan.placement(e.name)
        services[_service_name(e)] = {
            "image": VLLM_IMAGE,
            "command": vllm_args(e, p),
            "environment": _env(e),
            "ports": [f"{port}:{port}"],
            "ipc": "host",
            "volumes": ["${HOME}/.cache/huggingface:/root/.cache/huggingface"],
            "healthcheck": {"test": ["CMD", "curl", "-fsS", f"http://localhost:{port}/health"], "interval": "10s", "retries": 60},
            "deploy": {"resources": {"reservations": {"devices": [{"driver": "nvidia", "device_ids": [str(g) for g in p.gpus], "capabilities": ["gpu"]}]}}},
        }
    services["gateway"] = {
        "build": {"context": "..", "dockerfile": "deploy/Dockerfile"},
        "command": ["orchestrator", "serve", "--config", "/app/deploy/experts.compose.yaml", "--host", "0.0.0.0", "--port", str(config.gateway.port)],
        "ports": [f"{config.gateway.port}:{config.gateway.port}"],
        "depends_on": {name: {"condition": "service_healthy"} for name in services},
    }
    return {"name": "expert-orchestrator", "services": services}


def _service_name(expert: ExpertConfig) -> str:
    return expert.name.replace(".", "-")


def _retargeted_yaml(config: Config, source_text: str | None, api_base: Callable[[ExpertConfig], str], **overrides: Any) -> str:
    """The same composition with each ``api_base`` replaced and top-level sections overridden;
    relative paths are made relative to ``deploy/`` (where the rendered file lives)."""
    data = yaml.safe_load(source_text) if source_text else config.model_dump(mode="json", exclude_defaults=True)
    for entry, expert in zip(data["experts"], config.experts, strict=True):
        entry["api_base"] = api_base(expert)
    if config.router.artifacts and not Path(config.router.artifacts).is_absolute():
        data.setdefault("router", {})["artifacts"] = f"../{config.router.artifacts}"
    if config.simulator.replay_dataset and not Path(config.simulator.replay_dataset).is_absolute():
        data.setdefault("simulator", {})["replay_dataset"] = f"../{config.simulator.replay_dataset}"
    for section, values in overrides.items():
        data[section] = {**(data.get(section) or {}), **values}
    return yaml.safe_dump(data, sort_keys=False, width=120)


def _compose_experts_yaml(config: Config, source_text: str | None) -> str:
    """The same composition with each api_base pointing at its compose service."""
    return _retargeted_yaml(config, source_text, lambda e: f"http://{_service_name(e)}:{e.port or 8000}/v1")


def _k8s_experts_yaml(config: Config, source_text: str | None) -> str:
    # In the pod the config is /etc/orchestrator/experts.yaml and the image holds /app/artifacts.
    text = _retargeted_yaml(
        config,
        source_text,
        lambda e: f"http://{service_name(e.name)}:{e.port or 8000}/v1",
        gateway={"host": "0.0.0.0", "api_keys_env": "ORCHESTRATOR_API_KEYS", "redis_url_env": REDIS_URL_ENV},
    )
    data = yaml.safe_load(text)
    if config.router.artifacts:
        data["router"]["artifacts"] = "/app/artifacts/router"
    data.pop("simulator", None)
    return yaml.safe_dump(data, sort_keys=False, width=120)


def _ray_experts_yaml(config: Config, source_text: str | None, serve_url: str) -> str:
    # Ray Serve scales replicas itself and has no /sleep endpoints: no residency budget here.
    return _retargeted_yaml(config, source_text, lambda e: ray_api_base(serve_url, e.name), scheduler={"gpu_memory_budget_gb": None})


@dataclass(frozen=True)
class RenderedDeployment:
    files: dict[str, str]


def render(
    config: Config,
    source_text: str | None = None,
    *,
    targets: Iterable[str] = TARGETS,
    gpus: int = 8,
    gpu_memory_gb: float = 80.0,
    ray_serve_url: str = "http://127.0.0.1:8000",
) -> RenderedDeployment:
    """Render the files of each target; packing onto ``gpus`` GPUs of ``gpu_memory_gb`` fails
    with a :class:`~orchestrator.errors.ConfigError` when the experts do not fit."""
    targets = list(targets)
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise ValueError(f"unknown deploy target(s) {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    plan = pack(config, gpu_memory_gb=gpu_memory_gb, gpus=gpus)
    dump = lambda obj: yaml.safe_dump(obj, sort_keys=False, width=120)  # noqa: E731
    header = "# Rendered from experts.yaml by `orchestrator deploy render`; edit experts.yaml instead.\n"
    files: dict[str, str] = {}
    if "vllm" in targets:
        files["launch_vllm.sh"] = _launch_script(config, plan)
    if "compose" in targets:
        files["docker-compose.yaml"] = header + dump(_compose(config, plan))
        files["experts.compose.yaml"] = header + _compose_experts_yaml(config, source_text)
    if "k8s" in targets:
        values = helm_values(config, plan, _k8s_experts_yaml(config, source_text), vllm_args)
        files["k8s-values.yaml"] = header + "# helm install eo deploy/helm/expert-orchestrator -f deploy/k8s-values.yaml [-f .../values-prod.yaml]\n" + dump(values)
    if "ray" in targets:
        files["ray-serve.yaml"] = header + dump(ray_serve_config(config, plan))
        files["experts.ray.yaml"] = header + _ray_experts_yaml(config, source_text, ray_serve_url)
    return RenderedDeployment(files=files)


def write(rendered: RenderedDeployment, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered.files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        if name.endswith(".sh"):
            path.chmod(0o755)
        written.append(path)
    return written
