"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task and a copy per request).

:class:`RequestContext` gives every request an id (the client's ``X-Request-Id`` when sane, else
a fresh one), echoes it on the response, puts it in every log line through a context variable,
refuses bodies over ``max_body_bytes`` with 413 (by ``Content-Length`` up front, or by reading
a chunked body up to the limit before the app sees it), and records the request count and latency by route.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.errors import error_body

__all__ = ["RequestContext", "RequestIdFilter", "request_id_var"]

log = logging.getLogger("orchestrator.gateway.access")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_ROUTES = {"/v1/chat/completions", "/v1/models", "/v1/route", "/health", "/ready", "/metrics"}


class RequestIdFilter(logging.Filter):
    """Adds ``%(request_id)s`` to log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RequestContext:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: Any = None):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = {"code": 500}
        try:
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                await self._too_large(send, rid, status)
                return
            await self._run(scope, receive, send, rid, status)
        finally:
            elapsed = time.perf_counter() - started
            path = scope["path"] if scope["path"] in _ROUTES else "other"
            if self.metrics is not None:
                self.metrics.observe_request(path, status["code"], elapsed)
            log.info("%s %s %d %.1fms", scope["method"], scope["path"], status["code"], elapsed * 1000)
            request_id_var.reset(token)

    async def _run(self, scope: Scope, receive: Receive, send: Send, rid: str, status: dict) -> None:
        if b"content-length" not in dict(scope["headers"]) and scope["method"] in ("POST", "PUT", "PATCH"):
            # A chunked body has no length up front: read it (up to the limit) before the app does.
            messages = await self._read_capped(receive)
            if messages is None:
                await self._too_large(send, rid, status)
                return
            receive = _replay(messages, receive)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)

    async def _read_capped(self, receive: Receive) -> list[Message] | None:
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                return messages

    async def _too_large(self, send: Send, rid: str, status: dict) -> None:
        status["code"] = 413
        body = error_body(413, f"The request body exceeds the limit of {self.max_body_bytes} bytes.")
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"x-request-id", rid.encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
