"""Pack experts onto GPUs by memory: which GPU(s) each vLLM server gets, and its launch fractions.

Each expert needs its awake footprint (``memory_gb``: weights + KV cache; estimated from
``params_b`` when absent). vLLM reserves ``--gpu-memory-utilization`` of a GPU's memory at
start-up, whether or not it later sleeps, so the footprints sharing a GPU must sum to at most
that GPU's memory: packing never oversubscribes. An expert larger than one GPU gets
``--tensor-parallel-size`` whole GPUs of its own (a power of two, as vLLM requires for most
models). First-fit decreasing keeps the GPU count low; a composition that needs more GPUs
than the cluster has is an error naming the experts that did not fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from orchestrator.config import Config, ExpertConfig
from orchestrator.errors import ConfigError, Problem

__all__ = ["GpuPlan", "Placement", "estimate_memory_gb", "pack"]

# bf16 weights are 2 bytes a parameter; vLLM needs room for the KV cache and activations on top.
_BYTES_PER_PARAM = 2.0
_KV_HEADROOM = 1.25
# Never hand vLLM the very last GB: CUDA context and NCCL buffers live outside its budget.
_RESERVED_GB = 1.0


@dataclass(frozen=True)
class Placement:
    """One vLLM server: its GPUs (indices on the node) and the fraction of each it may use."""

    expert: str
    gpus: tuple[int, ...]
    memory_gb: float
    gpu_memory_utilization: float

    @property
    def tensor_parallel_size(self) -> int:
        return len(self.gpus)


@dataclass(frozen=True)
class GpuPlan:
    gpu_memory_gb: float
    placements: tuple[Placement, ...]

    @property
    def gpus_used(self) -> int:
        return 1 + max((g for p in self.placements for g in p.gpus), default=-1)

    def placement(self, expert: str) -> Placement:
        return next(p for p in self.placements if p.expert == expert)

    def groups(self) -> list[tuple[tuple[int, ...], list[Placement]]]:
        """Experts that share GPUs, in GPU order: one group is one Kubernetes pod / compose device set."""
        by_gpus: dict[tuple[int, ...], list[Placement]] = {}
        for p in self.placements:
            by_gpus.setdefault(p.gpus, []).append(p)
        return sorted(by_gpus.items())

    def used_gb(self, gpu: int) -> float:
        return sum(p.memory_gb / p.tensor_parallel_size for p in self.placements if gpu in p.gpus)

    def reserved_gb(self, gpu: int) -> float:
        """What vLLM reserves on ``gpu``: the servers' ``--gpu-memory-utilization`` times its size."""
        return sum(p.gpu_memory_utilization for p in self.placements if gpu in p.gpus) * self.gpu_memory_gb


def estimate_memory_gb(expert: ExpertConfig) -> float | None:
    if expert.memory_gb is not None:
        return float(expert.memory_gb)
    if expert.params_b is not None:
        return round(expert.params_b * _BYTES_PER_PARAM * _KV_HEADROOM, 1)
    return None


def pack(config: Config, *, gpu_memory_gb: float = 80.0, gpus: int = 8) -> GpuPlan:
    """Place every expert; raise :class:`ConfigError` when a footprint is unknown or the GPUs run out."""
    usable = gpu_memory_gb - _RESERVED_GB
    problems: list[Problem] = []
    needs: list[tuple[int, ExpertConfig, float]] = []
    for i, e in enumerate(config.experts):
        mem = estimate_memory_gb(e)
        if mem is None:
            problems.append(Problem(f"experts[{i}].memory_gb", "needed to pack experts onto GPUs (or give params_b to estimate it)", config.source))
        else:
            needs.append((i, e, mem))
    if problems:
        raise ConfigError(problems)

    # Pack in vLLM's own unit (the rounded-up fraction each server reserves), so the fractions
    # sharing a GPU sum to at most the usable share and no GPU is ever oversubscribed.
    capacity = math.floor(usable / gpu_memory_gb * 100 + 1e-9) / 100
    free = [capacity] * gpus
    taken = [False] * gpus  # a tensor-parallel expert owns its GPUs outright
    placed: dict[str, Placement] = {}
    unplaced: list[str] = []
    # First-fit decreasing; ties keep the config order so the plan is stable.
    for i, e, mem in sorted(needs, key=lambda t: (-t[2], t[0])):
        tp = 1 if mem <= usable else 2 ** math.ceil(math.log2(math.ceil(mem / usable)))
        share = _fraction(mem / tp, gpu_memory_gb)
        if tp == 1:
            gpu = next((g for g in range(gpus) if not taken[g] and free[g] + 1e-9 >= share), None)
            if gpu is None:
                unplaced.append(f"{e.name} ({mem:g} GB)")
                continue
            free[gpu] -= share
            placed[e.name] = Placement(e.name, (gpu,), mem, share)
            continue
        start = next((g for g in range(0, gpus - tp + 1, tp) if all(free[x] == capacity and not taken[x] for x in range(g, g + tp))), None)
        if start is None:
            unplaced.append(f"{e.name} ({mem:g} GB, tensor-parallel over {tp} GPUs)")
            continue
        for x in range(start, start + tp):
            taken[x], free[x] = True, 0.0
        placed[e.name] = Placement(e.name, tuple(range(start, start + tp)), mem, share)
    if unplaced:
        total = sum(m for _, _, m in needs)
        raise ConfigError(
            Problem(
                "experts",
                f"does not fit on {gpus} GPU(s) of {gpu_memory_gb:g} GB ({total:g} GB of experts in all); "
                f"left over: {', '.join(unplaced)}. Add GPUs (--gpus), larger GPUs (--gpu-memory-gb) or fewer experts.",
                config.source,
            )
        )
    return GpuPlan(gpu_memory_gb, tuple(placed[e.name] for e in config.experts))


def _fraction(gb: float, gpu_memory_gb: float) -> float:
    # Round up to 0.01 so vLLM gets at least the footprint; packing kept the sum under the usable size.
    return min(1.0, math.ceil(gb / gpu_memory_gb * 100 - 1e-9) / 100)
