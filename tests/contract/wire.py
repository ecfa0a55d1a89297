"""Small helpers the contract tests share: requests, SSE parsing and JSON shapes."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

TIMEOUT = httpx.Timeout(60.0)


def chat_body(model: str, content: str = "Name three primary colours.", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 5, **extra}


def post(url: str, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, json=body, timeout=TIMEOUT, **kwargs)


def sse_payloads(response_text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order (``[DONE]`` kept as a string)."""
    events = [e for e in response_text.split("\n\n") if e.strip()]
    assert all(e.startswith("data: ") for e in events), events
    return [e.removeprefix("data: ") for e in events]


def stream_chunks(url: str, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    with httpx.stream("POST", url, json=body, timeout=TIMEOUT) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        text = r.read().decode()
    payloads = sse_payloads(text)
    return [json.loads(p) for p in payloads[:-1]], payloads[-1]


def shape(value: Any) -> Any:
    """A JSON value's structure: key names, nesting and value types (``null`` kept distinct)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if value is None:
        return None
    return type(value).__name__


def normalise_message(message: str, model: str) -> str:
    """Error text with the model name and numbers abstracted, to compare two servers."""
    return re.sub(r"\d+", "N", message.replace(model, "MODEL"))
