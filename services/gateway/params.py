"""What the gateway forwards to an expert: OpenAI's sampling fields, tools, logprobs, max_tokens.

OpenAI's parameter ranges are checked by :class:`~services.gateway.wire.GatewayChatRequest`'s
field constraints (a 400 naming the field, before any expert is called); this module decides
what reaches the expert:

- sampling fields the client set are forwarded as given;
- ``tools``, ``tool_choice``, ``parallel_tool_calls``, ``logprobs`` and ``top_logprobs`` need one
  expert's own output (an ensemble cannot merge tool calls or token logprobs), so they are
  forwarded only on a single-expert call (:data:`SINGLE_EXPERT_FIELDS`);
- ``max_tokens`` is the client's, else capped by the expert's declared ``vllm.max_model_len``
  minus the estimated prompt (what vLLM itself would fill), else left unset.
"""

from __future__ import annotations

from typing import Any

from orchestrator.config import ExpertConfig, GatewaySettings
from orchestrator.protocol import ChatCompletionRequest

__all__ = ["SINGLE_EXPERT_FIELDS", "default_max_tokens", "sampling_params", "single_expert_reason"]

# Sampling fields forwarded to experts when the client set them.
_FORWARD = (
    "temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty", "logit_bias",
    "response_format", "top_k", "min_p", "repetition_penalty", "min_tokens", "ignore_eos",
)
#: Fields whose answer is one expert's own output: forwarded only to a single expert.
SINGLE_EXPERT_FIELDS = ("tools", "tool_choice", "parallel_tool_calls", "logprobs", "top_logprobs")


def _set(body: ChatCompletionRequest, name: str) -> bool:
    return name in body.model_fields_set and getattr(body, name, None) is not None


def single_expert_reason(body: ChatCompletionRequest) -> str | None:
    """The field that makes this request need exactly one expert's output, or None."""
    if body.tools:
        return "tools"
    if body.logprobs:
        return "logprobs"
    return None


def default_max_tokens(expert: ExpertConfig | None, prompt_tokens: int, settings: GatewaySettings) -> int | None:
    """``max_tokens`` for a request that sets none: the expert's context left after the prompt."""
    if expert is not None and expert.vllm.max_model_len is not None:
        return max(1, expert.vllm.max_model_len - prompt_tokens)
    return settings.default_max_tokens


def sampling_params(body: ChatCompletionRequest, *, max_tokens: int | None, single_expert: bool) -> dict[str, Any]:
    """The parameters sent to the expert(s). ``max_tokens``: the default when the client set none."""
    names = _FORWARD + SINGLE_EXPERT_FIELDS if single_expert else _FORWARD
    params = {k: getattr(body, k) for k in names if _set(body, k)}
    chosen = body.requested_max_tokens or max_tokens
    if chosen is not None:
        params["max_tokens"] = chosen
    return params
