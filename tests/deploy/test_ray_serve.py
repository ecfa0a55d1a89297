"""The Ray Serve LLM config loads with Ray's own config classes, and the gateway's experts.ray.yaml
points one expert at each Ray Serve application."""

from __future__ import annotations

import os

import pytest
import yaml

from orchestrator.config import parse_config
from orchestrator.deploy import render

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
serve_schema = pytest.importorskip("ray.serve.schema", reason="ray[serve] is in the dev extra")


@pytest.mark.parametrize("which", ["default_config", "sixteen_config"])
def test_ray_serve_config_loads_with_rays_schema(request, which):
    from ray.serve.config import AutoscalingConfig

    config, text = request.getfixturevalue(which)
    files = render(config, text, targets=["ray"], ray_serve_url="http://ray-head:8000").files
    doc = yaml.safe_load(files["ray-serve.yaml"])
    schema = serve_schema.ServeDeploySchema.model_validate(doc)
    assert len(schema.applications) == len(config.experts)
    assert {a.import_path for a in schema.applications} == {"ray.serve.llm:build_openai_app"}
    assert len({a.route_prefix for a in schema.applications}) == len(config.experts)
    for app in schema.applications:
        (llm,) = app.args["llm_configs"]
        AutoscalingConfig.model_validate(llm["deployment_config"]["autoscaling_config"])
        assert 0 < llm["engine_kwargs"]["gpu_memory_utilization"] <= 1

    gateway = parse_config(files["experts.ray.yaml"])
    assert gateway.scheduler.gpu_memory_budget_gb is None  # Ray scales replicas; no sleep/wake through it
    by_prefix = {a.route_prefix: a.args["llm_configs"][0]["model_loading_config"]["model_id"] for a in schema.applications}
    for e in gateway.experts:
        prefix = "/" + e.api_base.removeprefix("http://ray-head:8000/").removesuffix("/v1")
        assert by_prefix[prefix] == e.served_name


def test_llm_configs_load_with_ray_serve_llm_when_an_engine_is_installed(default_config):
    # ray.serve.llm.LLMConfig imports vLLM (or SGLang) at import time; neither runs on this
    # CPU-only machine, so this check runs only where one is installed.
    try:
        from ray.serve.llm import LLMConfig
    except ImportError as exc:
        pytest.skip(f"ray.serve.llm needs an engine to import: {exc}")
    config, text = default_config
    doc = yaml.safe_load(render(config, text, targets=["ray"]).files["ray-serve.yaml"])
    for app in doc["applications"]:
        LLMConfig(**app["args"]["llm_configs"][0])
