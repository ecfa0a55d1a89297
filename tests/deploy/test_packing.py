"""Experts packed onto GPUs by memory: vLLM's reservations never exceed a GPU."""

from __future__ import annotations

import pytest

from orchestrator.config import parse_config
from orchestrator.deploy import render, vllm_args
from orchestrator.deployment.packing import pack
from orchestrator.errors import ConfigError

from .conftest import sixteen_expert_text


def _assert_within_gpus(plan, gpus: int) -> None:
    assert plan.gpus_used <= gpus
    for g in range(plan.gpus_used):
        share = sum(p.gpu_memory_utilization for p in plan.placements if g in p.gpus)
        assert share <= 1.0 + 1e-9, f"GPU {g} is oversubscribed: {share}"
        assert plan.used_gb(g) <= plan.gpu_memory_gb
        assert plan.reserved_gb(g) <= plan.gpu_memory_gb


@pytest.mark.parametrize("gpu_memory_gb", [24.0, 40.0, 80.0, 141.0])
def test_default_experts_never_oversubscribe_a_gpu(default_config, gpu_memory_gb):
    config, _ = default_config
    plan = pack(config, gpu_memory_gb=gpu_memory_gb, gpus=8)
    _assert_within_gpus(plan, 8)
    for p in plan.placements:
        # vLLM gets at least the expert's footprint.
        assert p.gpu_memory_utilization * gpu_memory_gb * p.tensor_parallel_size >= config.expert(p.expert).memory_gb - 1e-6


def test_default_experts_share_two_80gb_gpus(default_config):
    config, _ = default_config
    plan = pack(config, gpu_memory_gb=80, gpus=8)
    assert plan.gpus_used == 2  # 134 GB of experts
    assert all(p.tensor_parallel_size == 1 for p in plan.placements)


def test_sixteen_experts_pack_with_tensor_parallelism_for_the_big_ones(sixteen_config):
    config, _ = sixteen_config
    plan = pack(config, gpu_memory_gb=80, gpus=8)
    _assert_within_gpus(plan, 8)
    big = {p.expert: p for p in plan.placements if p.tensor_parallel_size > 1}
    assert set(big) == {"expert-03", "expert-11"}
    assert all(p.tensor_parallel_size == 2 for p in big.values())  # 85 GB > 79 usable GB
    owned = [g for p in big.values() for g in p.gpus]
    assert len(owned) == len(set(owned))  # a tensor-parallel expert owns its GPUs
    assert not any(set(p.gpus) & set(owned) for p in plan.placements if p.tensor_parallel_size == 1)
    args = vllm_args(config.expert("expert-03"), plan.placement("expert-03"))
    assert args[args.index("--tensor-parallel-size") + 1] == "2"


def test_adapter_experts_enable_lora_with_their_module(sixteen_config):
    config, _ = sixteen_config
    plan = pack(config, gpu_memory_gb=80, gpus=8)
    args = vllm_args(config.expert("expert-04"), plan.placement("expert-04"))
    assert "--enable-lora" in args
    assert args[args.index("--lora-modules") + 1] == "adapter-04=/adapters/adapter-04"


def test_a_composition_that_cannot_fit_is_a_clear_error(sixteen_config):
    config, _ = sixteen_config
    with pytest.raises(ConfigError) as info:
        pack(config, gpu_memory_gb=80, gpus=4)
    message = str(info.value)
    assert "does not fit on 4 GPU(s) of 80 GB" in message and "left over" in message and "--gpus" in message


def test_an_expert_without_a_footprint_names_the_field():
    doc = "experts:\n  - {name: a, model: hosted_vllm/a, api_base: 'http://127.0.0.1:9001/v1', roles: [expert, aggregator]}\n"
    with pytest.raises(ConfigError, match=r"experts\[0\]\.memory_gb"):
        pack(parse_config(doc))


def test_launch_script_pins_each_server_to_its_gpus(sixteen_config):
    config, text = sixteen_config
    script = render(config, text, targets=["vllm"]).files["launch_vllm.sh"]
    plan = pack(config)
    for p in plan.placements:
        line = next(line for line in script.splitlines() if f"--port {config.expert(p.expert).port} " in line)
        assert line.startswith(f"CUDA_VISIBLE_DEVICES={','.join(map(str, p.gpus))} ")
        assert f"--gpu-memory-utilization {p.gpu_memory_utilization:g}" in line


def test_sixteen_expert_text_is_a_valid_composition():
    assert len(parse_config(sixteen_expert_text()).experts) == 16
