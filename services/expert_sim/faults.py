"""Fault injection: server errors, stalls, dropped connections (each with its own rate).

A dropped connection is real: the server sends the response headers and part of the body,
then the ASGI app raises :class:`ConnectionDropped`, which makes uvicorn close the socket
without finishing the body. Clients see what they would see when a vLLM pod dies mid-answer.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from services.expert_sim.settings import SimSettings


class ConnectionDropped(Exception):
    """Raised inside a response on purpose so the server closes the connection mid-body."""


@dataclass(frozen=True)
class FaultPlan:
    error: bool = False
    stall: bool = False
    drop: bool = False


class FaultInjector:
    """Draws, per request, which faults hit it (seeded, so a run is reproducible)."""

    def __init__(self, settings: SimSettings):
        self.settings = settings
        self._rng = random.Random(settings.seed)

    def draw(self) -> FaultPlan:
        s = self.settings
        if not (s.error_rate or s.stall_rate or s.drop_rate):
            return FaultPlan()
        return FaultPlan(
            error=self._rng.random() < s.error_rate,
            stall=self._rng.random() < s.stall_rate,
            drop=self._rng.random() < s.drop_rate,
        )


class DroppedResponse(Response):
    """Announces the full body, sends half of it, then drops the connection."""

    def __init__(self, content: bytes, media_type: str = "application/json"):
        super().__init__(content=content, media_type=media_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2], "more_body": True})
        raise ConnectionDropped("simulated dropped connection")


class _HideDrops(logging.Filter):
    """uvicorn logs every app exception with a traceback; a deliberate drop is not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc: Any = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, ConnectionDropped):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


def hide_drop_tracebacks() -> None:
    logging.getLogger("uvicorn.error").addFilter(_HideDrops())
