"""The general path: any litellm provider (``hosted_vllm/``, ``openai/``, ``anthropic/`` ...).

litellm is imported on first use (it costs ~2 s) and told to stay quiet. Its own retries are
off: the :class:`~orchestrator.experts.client.ExpertClient` retries, so the breaker and the
trace see every attempt. This module is the one place litellm exceptions become
:mod:`orchestrator.errors` (``raise ... from exc``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

from orchestrator.config import ExpertConfig
from orchestrator.errors import ExpertError, ExpertResponseError, ExpertTimeout, ExpertUnavailable
from orchestrator.experts.types import RawCompletion, StreamPart, Usage

__all__ = ["LitellmTransport"]


def _litellm() -> Any:
    import litellm

    litellm.suppress_debug_info = True
    return litellm


@contextmanager
def _translate(expert: str, timeout_s: float) -> Iterator[None]:
    litellm = _litellm()
    try:
        yield
    except ExpertError:
        raise
    except litellm.exceptions.Timeout as exc:
        raise ExpertTimeout(expert, f"no response within {timeout_s:g} s") from exc
    except litellm.exceptions.APIConnectionError as exc:
        raise ExpertUnavailable(expert, f"connection failed: {_first_line(exc)}") from exc
    except litellm.exceptions.OpenAIError as exc:
        status = getattr(exc, "status_code", None)
        if isinstance(status, int):
            raise ExpertResponseError(expert, _first_line(exc), status) from exc
        raise ExpertUnavailable(expert, _first_line(exc)) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


class LitellmTransport:
    name = "litellm"

    @staticmethod
    def supports(expert: ExpertConfig) -> bool:
        return True

    def _kwargs(self, expert: ExpertConfig, messages: list[dict], params: dict, timeout_s: float) -> dict[str, Any]:
        kwargs: dict[str, Any] = {**params, "model": expert.model, "messages": messages, "timeout": timeout_s, "num_retries": 0, "max_retries": 0}
        if expert.api_base:
            kwargs["api_base"] = expert.api_base
        key = expert.api_key()
        if key:
            kwargs["api_key"] = key
        elif expert.provider == "openai" and expert.api_base:
            kwargs["api_key"] = "EMPTY"  # openai/ on a self-hosted server refuses to run without one
        return kwargs

    async def complete(self, expert: ExpertConfig, messages: list[dict], params: dict, timeout_s: float) -> RawCompletion:
        litellm = _litellm()
        with _translate(expert.name, timeout_s):
            response = await litellm.acompletion(**self._kwargs(expert, messages, params, timeout_s))
        try:
            choice = response.choices[0]
            usage = getattr(response, "usage", None)
            return RawCompletion(
                text=choice.message.content or "",
                finish_reason=choice.finish_reason or "stop",
                prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                tool_calls=_dumped(getattr(choice.message, "tool_calls", None)),
                logprobs=_dumped(getattr(choice, "logprobs", None)),
            )
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            raise ExpertResponseError(expert.name, f"malformed completion: {str(response)[:200]}", 502) from exc

    async def stream(self, expert: ExpertConfig, messages: list[dict], params: dict, timeout_s: float) -> AsyncIterator[StreamPart]:
        litellm = _litellm()
        kwargs = self._kwargs(expert, messages, params, timeout_s)
        kwargs.setdefault("stream_options", {"include_usage": True})  # the server's own token counts, as on the httpx path
        with _translate(expert.name, timeout_s):
            response = await litellm.acompletion(**kwargs, stream=True)
            async for chunk in response:
                part = _part(chunk)
                if part is not None:
                    yield part

    async def aclose(self) -> None:
        return None


def _part(chunk: Any) -> StreamPart | None:
    choices = getattr(chunk, "choices", None) or []
    choice = choices[0] if choices else None
    delta = getattr(choice, "delta", None)
    content = getattr(delta, "content", None) or ""
    finish_reason = getattr(choice, "finish_reason", None)
    usage = getattr(chunk, "usage", None)
    tokens = Usage(int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0)) if usage else None
    part = StreamPart(content, finish_reason, tokens, _dumped(getattr(delta, "tool_calls", None)), _dumped(getattr(choice, "logprobs", None)))
    if not part.has_output and finish_reason is None and tokens is None:
        return None
    return part


def _dumped(value: Any) -> Any:
    """litellm's pydantic objects as plain JSON data (None and empty stay None)."""
    if not value:
        return None
    if isinstance(value, list):
        return [v.model_dump(exclude_none=True) if hasattr(v, "model_dump") else v for v in value]
    return value.model_dump(exclude_none=True) if hasattr(value, "model_dump") else value
