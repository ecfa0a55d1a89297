"""The sampling-parameter checks vLLM makes before generating (``SamplingParams._verify_args``,
the request's logprob validators), answered as vLLM answers them: 400 ``BadRequestError``."""

from __future__ import annotations

import math

from orchestrator.protocol import ChatCompletionRequest, CompletionRequest, ParameterError
from services.expert_sim.state import RequestRejected, error_json

__all__ = ["MAX_LOGPROBS", "check_sampling"]

#: vLLM's default ``--max-logprobs``.
MAX_LOGPROBS = 20


def _reject(message: str, parameter: str | None = None, value: object = None) -> RequestRejected:
    return RequestRejected(error_json(str(ParameterError(message, parameter=parameter, value=value)), "BadRequestError", 400, parameter))


def _penalties(body: ChatCompletionRequest | CompletionRequest) -> None:
    for name in ("presence_penalty", "frequency_penalty"):
        value = getattr(body, name)
        if value is not None and not -2.0 <= value <= 2.0:
            raise _reject(f"{name} must be in [-2, 2], got {value}.")
    if body.repetition_penalty is not None and not (math.isfinite(body.repetition_penalty) and body.repetition_penalty > 0):
        raise _reject(f"repetition_penalty must be greater than zero, got {body.repetition_penalty}.")


def _temperature(body: ChatCompletionRequest | CompletionRequest) -> None:
    t = body.temperature
    if t is None:
        return
    if not math.isfinite(t):
        raise _reject(f"temperature must be a finite number, got {t}.", "temperature", t)
    if t > 2.0:
        raise _reject(f"temperature must be in [0, 2], got {t}.", "temperature", t)


def _top_k_min_p(body: ChatCompletionRequest | CompletionRequest) -> None:
    if body.top_k is not None and body.top_k < -1:
        raise _reject(f"top_k must be 0 (disable), or at least 1, got {body.top_k}.")
    if body.min_p is not None and not 0.0 <= body.min_p <= 1.0:
        raise _reject(f"min_p must be in [0, 1], got {body.min_p}.")


def _logprobs(body: ChatCompletionRequest | CompletionRequest) -> None:
    if isinstance(body, ChatCompletionRequest):
        top = body.top_logprobs
        if top is not None and top > 0 and not body.logprobs:
            raise _reject("when using `top_logprobs`, `logprobs` must be set to true.", "top_logprobs", top)
        requested = top if body.logprobs else None
    else:
        requested = body.logprobs
        if requested is not None and requested < 0:
            raise _reject(f"logprobs must be non-negative or -1, got {requested}.", "logprobs", requested)
    if requested is not None and requested > MAX_LOGPROBS:
        raise _reject(f"Requested sample logprobs of {requested}, which is greater than max allowed: {MAX_LOGPROBS}")


def check_sampling(body: ChatCompletionRequest | CompletionRequest) -> None:
    """Raise :class:`RequestRejected` for a parameter vLLM refuses."""
    _penalties(body)
    _temperature(body)
    _top_k_min_p(body)
    _logprobs(body)
