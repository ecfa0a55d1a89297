"""``/v1/completions`` and ``/v1/embeddings``: relayed to the expert the request names.

These endpoints have no ensemble meaning (a text completion or an embedding is one model's
own output), so ``model`` must name an expert; ``router/*`` or an unknown name is a 404 naming
the model. The body goes to the expert as sent (``model`` rewritten to the name it serves);
its answer comes back with ``model`` rewritten to what the client asked, streams relayed chunk
by chunk. An expert's 4xx comes back with its status and ``param``; an expert that does not
serve the route is a 404 naming it; an unreachable one a 503 and a slow one a 504, naming the
expert, never its address. Like every expert call, a relay holds a scheduler slot (the expert
awake and pinned, its concurrency counted) until the answer, or the stream, has been relayed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from starlette.responses import Response

from orchestrator.config import ExpertConfig
from services.gateway.catalog import Catalog
from services.gateway.errors import GatewayHTTPError, error_body, json_error
from services.gateway.sse import EventStream

__all__ = ["Passthrough"]


class Passthrough:
    """Relays OpenAI requests that only one expert can answer; owns one pooled HTTP client."""

    def __init__(self, http: httpx.AsyncClient | None = None):
        self._http = http or httpx.AsyncClient(timeout=None, limits=httpx.Limits(max_connections=512))

    async def aclose(self) -> None:
        await self._http.aclose()

    def expert_for(self, catalog: Catalog, model: str | None, route: str) -> ExpertConfig:
        target = catalog.resolve(model) if model and not model.startswith("router/") else None
        if target is None or target.kind != "expert" or target.expert is None:
            raise GatewayHTTPError(404, f"The model `{model}` does not exist or does not serve {route}: name an expert.", param="model")
        expert = catalog.config.expert(target.expert)
        if expert.api_base is None:
            raise GatewayHTTPError(404, f"The model `{model}` does not serve {route} through this gateway (no api_base).", param="model")
        return expert

    async def relay(
        self, expert: ExpertConfig, route: str, payload: dict[str, Any], client_model: str,
        *, slot: Callable[..., contextlib.AbstractAsyncContextManager[Any]],
    ) -> Response:
        """Relay under ``slot(expert_name, urgent=True)`` (the scheduler's zero-wait lane)."""
        held = contextlib.AsyncExitStack()
        await held.enter_async_context(slot(expert.name, urgent=True))
        streaming = False
        try:
            response = await self._relay(expert, route, payload, client_model, held)
            streaming = isinstance(response, EventStream)
            return response
        finally:
            if not streaming:  # a stream releases its slot when the relay of its last chunk ends
                await held.aclose()

    async def _relay(
        self, expert: ExpertConfig, route: str, payload: dict[str, Any], client_model: str, held: contextlib.AsyncExitStack
    ) -> Response:
        payload = {**payload, "model": expert.served_name}
        key = expert.api_key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        request = self._http.build_request("POST", f"{expert.api_base}{route.removeprefix('/v1')}", json=payload, headers=headers, timeout=expert.timeout_s)
        try:
            upstream = await self._http.send(request, stream=True)
        except httpx.TimeoutException:
            return json_error(504, f"expert {expert.name!r}: no response within {expert.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return json_error(503, f"expert {expert.name!r} is unreachable ({type(exc).__name__})")
        if upstream.status_code >= 400:
            body = await upstream.aread()
            await upstream.aclose()
            return _upstream_error(expert, route, client_model, upstream.status_code, body)
        if upstream.headers.get("content-type", "").startswith("text/event-stream"):
            held.push_async_callback(upstream.aclose)
            return EventStream(_relay_events(upstream, client_model, expert), release=held.aclose)
        try:
            body = json.loads(await upstream.aread())
        except ValueError:
            return json_error(502, f"expert {expert.name!r} answered with a body that is not JSON")
        finally:
            await upstream.aclose()
        if isinstance(body, dict) and "model" in body:
            body["model"] = client_model
        return Response(json.dumps(body), media_type="application/json")


def _upstream_error(expert: ExpertConfig, route: str, client_model: str, status: int, raw: bytes) -> Response:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if status == 404 and not (isinstance(err, dict) and err.get("param") == "model"):
        # The route itself is missing ({"detail": "Not Found"}): vLLM serves embeddings only for pooling models.
        return json_error(404, f"The model `{client_model}` (expert {expert.name!r}) does not serve {route}.", param="model")
    if isinstance(err, dict) and err.get("message"):
        message, param = str(err["message"]), err.get("param") if isinstance(err.get("param"), str) else None
    else:
        message, param = raw.decode(errors="replace")[:300] or f"HTTP {status}", None
    code = status if 400 <= status < 500 else 502
    return json_error(code, f"expert {expert.name!r}: {message}", param=param)


async def _relay_events(upstream: httpx.Response, client_model: str, expert: ExpertConfig) -> AsyncIterator[str]:
    try:
        async for line in upstream.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data != "[DONE]":
                try:
                    chunk = json.loads(data)
                except ValueError:
                    continue
                if isinstance(chunk, dict) and "model" in chunk:
                    chunk["model"] = client_model
                data = json.dumps(chunk)
            yield f"data: {data}\n\n"
    except httpx.HTTPError as exc:
        err = json.loads(error_body(502, f"expert {expert.name!r}: the stream broke off ({type(exc).__name__})"))
        yield f"data: {json.dumps(err)}\n\ndata: [DONE]\n\n"
