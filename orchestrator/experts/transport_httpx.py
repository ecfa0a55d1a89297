"""The fast path: OpenAI-compatible chat completions over one pooled ``httpx.AsyncClient``.

vLLM (and the simulator) speak the OpenAI wire format, so for ``hosted_vllm/`` experts the
client skips litellm's request building and response wrapping; ``bench/bench_client_overhead.py``
measures the difference. This module is the one place httpx exceptions become
:mod:`orchestrator.errors` (``raise ... from exc``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from orchestrator.config import ExpertConfig
from orchestrator.errors import ExpertError, ExpertResponseError, ExpertTimeout, ExpertUnavailable
from orchestrator.experts.types import RawCompletion, StreamPart, Usage

__all__ = ["HttpxTransport"]

_LIMITS = httpx.Limits(max_connections=2048, max_keepalive_connections=512)


@contextmanager
def _translate(expert: str, timeout_s: float) -> Iterator[None]:
    try:
        yield
    except ExpertError:
        raise
    except httpx.TimeoutException as exc:
        raise ExpertTimeout(expert, f"no response within {timeout_s:g} s ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:  # connect, read, write, protocol: the server is not serving
        raise ExpertUnavailable(expert, f"{type(exc).__name__}: {exc or 'connection failed'}") from exc


def _error(expert: str, response: httpx.Response) -> ExpertResponseError:
    """The expert's error, keeping the ``param`` its OpenAI/vLLM envelope names."""
    param = None
    try:
        body = response.json()
        err = body.get("error") if isinstance(body, dict) else None
        param = err.get("param") if isinstance(err, dict) and isinstance(err.get("param"), str) else None
    except ValueError:
        pass
    return ExpertResponseError(expert, _error_message(response), response.status_code, param)


def _error_message(response: httpx.Response) -> str:
    """The ``error.message`` of an OpenAI/vLLM error envelope, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(body.get("detail"), str):
            return body["detail"]
    return str(body)[:200]


def _parse(expert: str, body: Any) -> RawCompletion:
    try:
        choice = body["choices"][0]
        usage = body.get("usage") or {}
        return RawCompletion(
            text=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason") or "stop",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            tool_calls=choice["message"].get("tool_calls") or None,
            logprobs=choice.get("logprobs") or None,
        )
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        raise ExpertResponseError(expert, f"malformed completion: {str(body)[:200]}", 502) from exc


class HttpxTransport:
    """Chat completions against ``{api_base}/chat/completions``; one connection pool for all experts."""

    name = "httpx"

    def __init__(self, client: httpx.AsyncClient | None = None, *, transport: httpx.AsyncBaseTransport | None = None):
        # ``transport`` is httpx's seam: tests pass a MockTransport or an ASGITransport.
        self._client = client or httpx.AsyncClient(limits=_LIMITS, timeout=None, transport=transport)

    @staticmethod
    def supports(expert: ExpertConfig) -> bool:
        return expert.api_base is not None

    def _request(self, expert: ExpertConfig, messages: list[dict], params: dict, stream: bool) -> dict[str, Any]:
        payload = {**params, "model": expert.served_name, "messages": messages}
        if stream:
            payload["stream"] = True
            payload.setdefault("stream_options", {"include_usage": True})
        return payload

    def _headers(self, expert: ExpertConfig) -> dict[str, str]:
        key = expert.api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    async def complete(self, expert: ExpertConfig, messages: list[dict], params: dict, timeout_s: float) -> RawCompletion:
        with _translate(expert.name, timeout_s):
            response = await self._client.post(
                f"{expert.api_base}/chat/completions",
                json=self._request(expert, messages, params, stream=False),
                headers=self._headers(expert),
                timeout=timeout_s,
            )
        if response.status_code >= 400:
            raise _error(expert.name, response)
        try:
            body = response.json()
        except ValueError as exc:
            raise ExpertResponseError(expert.name, f"response is not JSON: {response.text[:200]!r}", 502) from exc
        return _parse(expert.name, body)

    async def stream(self, expert: ExpertConfig, messages: list[dict], params: dict, timeout_s: float) -> AsyncIterator[StreamPart]:
        """The parts of a server-sent-event stream, in order: content deltas, finish reason, usage."""
        with _translate(expert.name, timeout_s):
            async with self._client.stream(
                "POST",
                f"{expert.api_base}/chat/completions",
                json=self._request(expert, messages, params, stream=True),
                headers=self._headers(expert),
                timeout=timeout_s,
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _error(expert.name, response)
                lines = response.aiter_lines()
                async for line in lines:
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        # Read on to the end of the body (the chunked terminator): a response
                        # left unread closes its connection, so every stream opened a new one.
                        async for _ in lines:
                            pass
                        return
                    part = _part(expert.name, data)
                    if part is not None:
                        yield part

    async def aclose(self) -> None:
        await self._client.aclose()


def _part(expert: str, data: str) -> StreamPart | None:
    """One chunk's content delta, finish reason and usage; None for a chunk carrying none of them."""
    try:
        chunk = json.loads(data)
    except ValueError as exc:
        raise ExpertResponseError(expert, f"malformed stream chunk: {data[:200]!r}", 502) from exc
    if not isinstance(chunk, dict):
        raise ExpertResponseError(expert, f"malformed stream chunk: {data[:200]!r}", 502)
    if "error" in chunk:  # vLLM reports mid-stream failures as an error chunk
        err = chunk["error"] if isinstance(chunk["error"], dict) else {"message": str(chunk["error"])}
        raise ExpertResponseError(expert, str(err.get("message")), int(err.get("code") or 500))
    choices = chunk.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    delta = choice.get("delta") or {}
    content = delta.get("content") or ""
    finish_reason = choice.get("finish_reason")
    # The usage chunk has no choices; with continuous_usage_stats every chunk has one (the last wins).
    usage = _usage(expert, chunk.get("usage"))
    part = StreamPart(content, finish_reason, usage, delta.get("tool_calls") or None, choice.get("logprobs") or None)
    if not part.has_output and finish_reason is None and usage is None:
        return None
    return part


def _usage(expert: str, usage: Any) -> Usage | None:
    if not usage:
        return None
    try:
        return Usage(prompt_tokens=int(usage.get("prompt_tokens") or 0), completion_tokens=int(usage.get("completion_tokens") or 0))
    except (AttributeError, TypeError, ValueError) as exc:
        raise ExpertResponseError(expert, f"malformed usage in stream: {str(usage)[:200]}", 502) from exc
