"""Everything one simulated vLLM server is told at start-up (its command line, as a dataclass)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: vLLM's version the simulator imitates (``GET /version``).
VLLM_VERSION = "0.33.0"

#: The parameter count (billions) the latency and sleep model is calibrated on (Qwen2.5-7B).
REFERENCE_PARAMS_B = 7.6


@dataclass(frozen=True)
class SimSettings:
    """Options of one simulated expert; the defaults match ``SimulatorSettings`` in experts.yaml."""

    served_model_names: tuple[str, ...] = ("sim-model",)
    expert: str | None = None
    model_root: str | None = None
    replay: Path | None = None
    params_b: float = REFERENCE_PARAMS_B
    max_num_seqs: int = 256
    max_model_len: int = 8192
    kv_cache_tokens: int | None = None
    time_scale: float = 1.0
    ttft_base_ms: float = 15.0
    ttft_per_1k_prompt_tokens_ms: float = 20.0
    itl_ms: float = 2.0
    itl_per_running_seq_ms: float = 0.05
    error_rate: float = 0.0
    stall_rate: float = 0.0
    stall_s: float = 600.0
    drop_rate: float = 0.0
    slow_stream_ms: float = 0.0
    api_key: str | None = None
    seed: int = 0
    sleep_mode: bool = True
    tool_calling: bool = True  # as if served with --enable-auto-tool-choice --tool-call-parser

    def __post_init__(self) -> None:
        problems = []
        if not self.served_model_names:
            problems.append("at least one --served-model-name is required")
        for name in ("error_rate", "stall_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"--{name.replace('_', '-')} must be within [0, 1], got {value}")
        for name in ("params_b", "max_num_seqs", "max_model_len"):
            if getattr(self, name) <= 0:
                problems.append(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if self.time_scale < 0:
            problems.append(f"--time-scale must be >= 0, got {self.time_scale}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def model_name(self) -> str:
        """vLLM answers with the first served name, whatever alias the request used."""
        return self.served_model_names[0]

    @property
    def kv_capacity(self) -> int:
        """KV-cache budget in tokens; by default room for 16 full-length sequences."""
        return self.kv_cache_tokens or 16 * self.max_model_len

    @property
    def size_factor(self) -> float:
        """How much slower than the reference 7.6B model this one computes per token."""
        return self.params_b / REFERENCE_PARAMS_B
