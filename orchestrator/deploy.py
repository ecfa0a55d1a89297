"""Render how to serve the composition with real vLLM: from experts.yaml to launch commands,
a docker compose file (one host) and a Ray Serve LLM config (a cluster).

vLLM is never a dependency of this package (its wheel pins a CUDA torch); experts run in
vLLM's own image or environment and the gateway reaches them over HTTP. What is rendered
here is plain text a platform team can review and commit.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestrator.config import Config, ExpertConfig

__all__ = ["RenderedDeployment", "render", "vllm_args", "write"]

VLLM_IMAGE = "vllm/vllm-openai:v0.11.0"


def vllm_args(expert: ExpertConfig) -> list[str]:
    """``vllm serve`` arguments for one expert (model first; the image's entrypoint adds ``serve``)."""
    v = expert.vllm
    args = [expert.served_name, "--served-model-name", expert.served_name, "--host", "0.0.0.0", "--port", str(expert.port or 8000)]
    if v.max_model_len:
        args += ["--max-model-len", str(v.max_model_len)]
    args += ["--gpu-memory-utilization", f"{v.gpu_memory_utilization:g}", "--max-num-seqs", str(v.max_num_seqs)]
    if v.tensor_parallel_size > 1:
        args += ["--tensor-parallel-size", str(v.tensor_parallel_size)]
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


def _launch_script(config: Config) -> str:
    lines = [
        "#!/usr/bin/env bash",
        "# One vLLM server per expert on this host (rendered from experts.yaml; do not edit by hand).",
        "# Each server polls ready on GET /health; the gateway waits for all of them via GET /ready.",
        "set -euo pipefail",
        "",
    ]
    for e in config.experts:
        env = " ".join(f"{k}={v}" for k, v in _env(e).items() if k != "HF_TOKEN")
        cmd = " ".join(shlex.quote(a) if not a.startswith("${") else a for a in vllm_args(e))
        lines.append(f"# {e.name}: {e.description or e.model}")
        lines.append(f"{env + ' ' if env else ''}vllm serve {cmd} > logs/{e.name}.log 2>&1 &")
        lines.append("")
    lines.append("wait")
    return "\n".join(lines) + "\n"


def _compose(config: Config) -> dict:
    services: dict[str, dict] = {}
    for i, e in enumerate(config.experts):
        port = e.port or 8000
        services[_service_name(e)] = {
            "image": VLLM_IMAGE,
            "command": vllm_args(e),
            "environment": _env(e),
            "ports": [f"{port}:{port}"],
            "ipc": "host",
            "volumes": ["${HOME}/.cache/huggingface:/root/.cache/huggingface"],
            "healthcheck": {"test": ["CMD", "curl", "-fsS", f"http://localhost:{port}/health"], "interval": "10s", "retries": 60},
            "deploy": {"resources": {"reservations": {"devices": [{"driver": "nvidia", "device_ids": [str(i % 8)], "capabilities": ["gpu"]}]}}},
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


def _compose_experts_yaml(config: Config, source_text: str | None) -> str:
    """The same composition with each api_base pointing at its compose service."""
    data = yaml.safe_load(source_text) if source_text else config.model_dump(mode="json", exclude_defaults=True)
    for entry, expert in zip(data["experts"], config.experts, strict=True):
        entry["api_base"] = f"http://{_service_name(expert)}:{expert.port or 8000}/v1"
    if config.router.artifacts and not Path(config.router.artifacts).is_absolute():
        data.setdefault("router", {})["artifacts"] = f"../{config.router.artifacts}"
    if config.simulator.replay_dataset and not Path(config.simulator.replay_dataset).is_absolute():
        data.setdefault("simulator", {})["replay_dataset"] = f"../{config.simulator.replay_dataset}"
    return yaml.safe_dump(data, sort_keys=False, width=120)


def _ray_serve(config: Config) -> dict:
    llm_configs = []
    for e in config.experts:
        engine = {"tensor_parallel_size": e.vllm.tensor_parallel_size, "max_num_seqs": e.vllm.max_num_seqs}
        if e.vllm.max_model_len:
            engine["max_model_len"] = e.vllm.max_model_len
        if e.vllm.enable_sleep_mode:
            engine["enable_sleep_mode"] = True
        llm_configs.append(
            {
                "model_loading_config": {"model_id": e.served_name, "model_source": e.served_name},
                "engine_kwargs": engine,
                "deployment_config": {"autoscaling_config": {"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": e.max_concurrency}},
            }
        )
    return {"applications": [{"name": "experts", "route_prefix": "/", "import_path": "ray.serve.llm:build_openai_app", "args": {"llm_configs": llm_configs}}]}


@dataclass(frozen=True)
class RenderedDeployment:
    files: dict[str, str]


def render(config: Config, source_text: str | None = None) -> RenderedDeployment:
    dump = lambda obj: yaml.safe_dump(obj, sort_keys=False, width=120)  # noqa: E731
    header = "# Rendered from experts.yaml by `orchestrator deploy render`; edit experts.yaml instead.\n"
    return RenderedDeployment(
        files={
            "launch_vllm.sh": _launch_script(config),
            "docker-compose.yaml": header + dump(_compose(config)),
            "ray-serve.yaml": header + dump(_ray_serve(config)),
            "experts.compose.yaml": header + _compose_experts_yaml(config, source_text),
        }
    )


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
