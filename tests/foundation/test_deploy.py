"""deploy/ is rendered from experts.yaml and kept in step with it."""

from __future__ import annotations

from pathlib import Path

import yaml

from orchestrator.config import load_config, parse_config
from orchestrator.deploy import render, vllm_args

REPO = Path(__file__).resolve().parents[2]


def test_committed_deploy_files_match_the_default_experts_yaml():
    source = REPO / "experts.yaml"
    rendered = render(load_config(source), source.read_text())
    for name, text in rendered.files.items():
        assert (REPO / "deploy" / name).read_text() == text, f"deploy/{name} is stale: run `orchestrator deploy render`"


def test_vllm_args_enable_sleep_mode_and_the_configured_limits():
    cfg = load_config(REPO / "experts.yaml")
    args = vllm_args(cfg.experts[0])
    assert args[0] == cfg.experts[0].served_name
    assert "--enable-sleep-mode" in args
    assert args[args.index("--port") + 1] == str(cfg.experts[0].port)
    assert args[args.index("--max-num-seqs") + 1] == str(cfg.experts[0].vllm.max_num_seqs)


def test_compose_points_the_gateway_at_expert_services_and_waits_for_health():
    cfg = load_config(REPO / "experts.yaml")
    files = render(cfg, (REPO / "experts.yaml").read_text()).files
    compose = yaml.safe_load(files["docker-compose.yaml"])
    assert set(compose["services"]) == {e.name.replace(".", "-") for e in cfg.experts} | {"gateway"}
    assert all(c == {"condition": "service_healthy"} for c in compose["services"]["gateway"]["depends_on"].values())
    inner = parse_config(files["experts.compose.yaml"])
    assert all(e.api_base.startswith(f"http://{e.name.replace('.', '-')}:") for e in inner.experts)


def test_api_key_is_passed_by_environment_variable_never_inline():
    doc = (REPO / "experts.yaml").read_text().replace(
        "    roles: [expert, aggregator, annotator]\n", "    roles: [expert, aggregator, annotator]\n    api_key_env: QWEN_KEY\n", 1
    )
    args = vllm_args(parse_config(doc).experts[0])
    assert args[args.index("--api-key") + 1] == "${QWEN_KEY}"
