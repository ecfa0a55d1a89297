"""Server-sent event responses that always let go of what they hold.

A stream holds a scheduler slot (the expert awake and pinned, its concurrency counted) until
its last chunk has gone out. Releasing it in a ``finally`` inside the event generator is not
enough: a client that leaves before the first byte makes Starlette give up before it starts the
generator, and an unstarted generator's ``finally`` never runs. :class:`EventStream` runs its
``release`` however the response ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

__all__ = ["SSE_HEADERS", "EventStream"]

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class EventStream(StreamingResponse):
    """A ``text/event-stream`` response whose ``release`` runs once the response is over."""

    def __init__(
        self, events: AsyncIterable[str], *, headers: dict[str, str] | None = None, release: Callable[[], Awaitable[Any]] | None = None
    ):
        super().__init__(events, media_type="text/event-stream", headers={**(headers or {}), **SSE_HEADERS})
        self.release = release

    def rewrap(self, events: AsyncIterable[str], headers: dict[str, str]) -> EventStream:
        """Another event stream over this one's events (e.g. re-encoded), keeping its release."""
        return EventStream(events, headers=headers, release=self.release)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self.release is not None:
                await self.release()
