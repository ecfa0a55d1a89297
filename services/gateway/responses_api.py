"""OpenAI's Responses API (``POST /v1/responses``) for text in and text out, over chat completions.

A Responses request becomes a chat request (``instructions`` as the system message, ``input``
as the turns), runs through the same :class:`~services.gateway.serving.ChatService` (experts
and ``router/*`` alike), and its answer is wrapped as a ``response`` object. Streaming turns the
chat chunks into Responses events as they arrive (``response.created`` ...
``response.output_text.delta`` ... ``response.completed``), each ``event: <type>`` plus
``data: <json>``, as OpenAI and vLLM send them. Nothing is stored: ``previous_response_id``
and tools are refused with a 400 naming the field.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from orchestrator.errors import InvalidRequest
from orchestrator.pipeline import RequestOptions
from orchestrator.protocol import random_id
from services.gateway.sse import EventStream
from services.gateway.wire import GatewayChatRequest

__all__ = ["ResponsesRequest", "ResponsesStream", "chat_request", "response_object"]



class ResponsesRequest(BaseModel):
    """The text subset of OpenAI's ``responses.create``; other fields are accepted and ignored
    unless they change the answer (then a 400 names them)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="an expert, router/auto or router/<category>")
    input: str | list[dict[str, Any]] = Field(description="text, or a list of {role, content} messages")
    instructions: str | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stream: bool | None = False
    tools: list[dict[str, Any]] | None = None
    previous_response_id: str | None = None
    metadata: dict[str, str] | None = None
    orchestrator: RequestOptions | None = None


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") not in ("input_text", "output_text", "text"):
                raise InvalidRequest("only text content (input_text / output_text parts) is supported", param=where)
            parts.append(str(part.get("text", "")))
        return "".join(parts)
    raise InvalidRequest("content must be a string or a list of text parts", param=where)


def _messages(body: ResponsesRequest) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": body.instructions}] if body.instructions else []
    if isinstance(body.input, str):
        return messages + [{"role": "user", "content": body.input}]
    for i, item in enumerate(body.input):
        if item.get("type", "message") != "message" or "role" not in item:
            raise InvalidRequest("only message items ({role, content}) are supported", param=f"input.{i}")
        role = "system" if item["role"] == "developer" else str(item["role"])
        messages.append({"role": role, "content": _text(item.get("content"), f"input.{i}.content")})
    if not messages:
        raise InvalidRequest("input has no messages", param="input")
    return messages


def chat_request(body: ResponsesRequest) -> GatewayChatRequest:
    if body.previous_response_id is not None:
        raise InvalidRequest("this gateway stores no responses: send the whole conversation as input", param="previous_response_id")
    if body.tools:
        raise InvalidRequest("tools are not supported on /v1/responses here; use /v1/chat/completions", param="tools")
    fields: dict[str, Any] = {"model": body.model, "messages": _messages(body), "stream": bool(body.stream)}
    for name, value in (("max_tokens", body.max_output_tokens), ("temperature", body.temperature), ("top_p", body.top_p), ("orchestrator", body.orchestrator)):
        if value is not None:
            fields[name] = value
    if body.stream:
        fields["stream_options"] = {"include_usage": True}
    try:
        return GatewayChatRequest.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidRequest(f"{first.get('msg')}", param=".".join(map(str, first.get("loc", ()))) or None) from exc


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }  # fmt: skip


def _message_item(item_id: str, text: str, status: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if status == "completed" else []
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}


def response_object(
    body: ResponsesRequest, *, response_id: str, created_at: float, status: Literal["in_progress", "completed", "incomplete"],
    output: list[dict[str, Any]], usage: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "id": response_id, "object": "response", "created_at": created_at, "model": body.model, "status": status,
        "output": output, "instructions": body.instructions, "max_output_tokens": body.max_output_tokens,
        "temperature": body.temperature, "top_p": body.top_p, "metadata": body.metadata or {},
        "parallel_tool_calls": False, "tool_choice": "none", "tools": [], "store": False,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "error": None, "usage": usage,
    }  # fmt: skip


def from_chat(body: ResponsesRequest, chat: dict[str, Any]) -> dict[str, Any]:
    """A finished chat.completion as a ``response`` object."""
    choice = chat["choices"][0]
    usage = chat.get("usage") or {}
    status = "incomplete" if choice.get("finish_reason") == "length" else "completed"
    item = _message_item(random_id("msg"), choice["message"].get("content") or "", "completed")
    return response_object(
        body, response_id=random_id("resp"), created_at=float(chat.get("created") or time.time()), status=status,
        output=[item], usage=_usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
    )  # fmt: skip


class ResponsesStream:
    """Chat chunks in, Responses events out (one message item, one output_text part)."""

    def __init__(self, body: ResponsesRequest):
        self.body = body
        self.id = random_id("resp")
        self.item_id = random_id("msg")
        self.created_at = float(int(time.time()))
        self.seq = 0

    def _event(self, type_: str, **fields: Any) -> str:
        data = {"type": type_, "sequence_number": self.seq, **fields}
        self.seq += 1
        return f"event: {type_}\ndata: {json.dumps(data)}\n\n"

    def _response(self, status: Literal["in_progress", "completed", "incomplete"], output: list, usage: dict | None = None) -> dict[str, Any]:
        return response_object(self.body, response_id=self.id, created_at=self.created_at, status=status, output=output, usage=usage)

    async def events(self, chat_events: AsyncIterator[str | bytes]) -> AsyncIterator[str]:
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield self._event("response.created", response=self._response("in_progress", []))
        yield self._event("response.in_progress", response=self._response("in_progress", []))
        yield self._event("response.output_item.added", output_index=0, item=_message_item(self.item_id, "", "in_progress"))
        yield self._event("response.content_part.added", item_id=self.item_id, output_index=0, content_index=0, part=part)
        pieces: list[str] = []
        finish, usage = "stop", _usage(0, 0)
        async for raw in chat_events:
            for line in (raw.decode() if isinstance(raw, bytes) else raw).splitlines():
                if not line.startswith("data:") or line[5:].strip() == "[DONE]":
                    continue
                chunk = json.loads(line[5:])
                if "error" in chunk:
                    error = {"code": "server_error", "message": str(chunk["error"].get("message"))}
                    yield self._event("error", code=error["code"], message=error["message"], param=None)
                    return
                if chunk.get("usage"):
                    usage = _usage(int(chunk["usage"].get("prompt_tokens") or 0), int(chunk["usage"].get("completion_tokens") or 0))
                for choice in chunk.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        pieces.append(delta)
                        yield self._event("response.output_text.delta", item_id=self.item_id, output_index=0, content_index=0, delta=delta, logprobs=[])
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        text = "".join(pieces)
        yield self._event("response.output_text.done", item_id=self.item_id, output_index=0, content_index=0, text=text, logprobs=[])
        yield self._event("response.content_part.done", item_id=self.item_id, output_index=0, content_index=0, part={**part, "text": text})
        item = _message_item(self.item_id, text, "completed")
        yield self._event("response.output_item.done", output_index=0, item=item)
        status = "incomplete" if finish == "length" else "completed"
        kind = "response.incomplete" if status == "incomplete" else "response.completed"
        yield self._event(kind, response=self._response(status, [item], usage))


async def respond(body: ResponsesRequest, chat: Response) -> Response:
    """The Responses answer for a chat answer (JSON, or a stream turned into Responses events)."""
    if chat.status_code >= 400:
        return chat
    if isinstance(chat, EventStream):
        stream = ResponsesStream(body)
        headers = {k: v for k, v in chat.headers.items() if k.startswith("x-orchestrator-")}
        return chat.rewrap(stream.events(chat.body_iterator), headers)
    payload = from_chat(body, json.loads(bytes(chat.body)))
    headers = {k: v for k, v in chat.headers.items() if k.startswith("x-orchestrator-")}
    return Response(json.dumps(payload), media_type="application/json", headers=headers)
