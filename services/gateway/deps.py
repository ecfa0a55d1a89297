"""Dependencies the route modules declare: the shared state, and the caller (auth + rate limit)."""

from __future__ import annotations

import inspect
import math
from typing import Annotated

from fastapi import Depends, Request

from services.gateway.errors import GatewayHTTPError
from services.gateway.state import GatewayState

__all__ = ["CallerDep", "GatewayDep", "authenticate", "authorize", "docs_auth", "get_gateway", "metrics_auth", "request_id"]


async def get_gateway(request: Request) -> GatewayState:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, a hop per request (and
    # per route that declares it) for an attribute read.
    return request.app.state.gateway


GatewayDep = Annotated[GatewayState, Depends(get_gateway)]


def request_id(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "-")


def authenticate(request: Request, gateway: GatewayState) -> str:
    """The caller's identity (a key hash prefix, or the client address when auth is off),
    after checking the bearer key; no rate limit."""
    if gateway.keys.enabled:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise GatewayHTTPError(401, "Missing API key: send 'Authorization: Bearer <key>'.", headers={"WWW-Authenticate": "Bearer"})
        digest = gateway.keys.identify(token.strip())
        if digest is None:
            raise GatewayHTTPError(401, "Invalid API key.", headers={"WWW-Authenticate": "Bearer"})
        identity = f"key:{digest[:16]}"
    else:
        identity = f"ip:{request.client.host if request.client else '-'}"
    return identity


async def authorize(request: Request, gateway: GatewayDep) -> str:
    """The caller's identity after checking the bearer key and taking a rate-limit token."""
    identity = authenticate(request, gateway)
    if gateway.limiter is not None:
        wait_s = gateway.limiter.acquire(identity)
        if inspect.isawaitable(wait_s):  # the Redis limiter (shared by replicas) is async
            wait_s = await wait_s
        if wait_s > 0:
            raise GatewayHTTPError(
                429,
                f"Rate limit of {gateway.limiter.rpm} requests per minute exceeded; retry in {wait_s:.1f} s.",
                headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
            )
    return identity


CallerDep = Annotated[str, Depends(authorize)]


def metrics_auth(request: Request, gateway: GatewayDep) -> None:
    """``gateway.protect_metrics``: /metrics needs a key (when keys are configured)."""
    if gateway.config.gateway.protect_metrics:
        authenticate(request, gateway)


def docs_auth(request: Request, gateway: GatewayDep) -> None:
    """``gateway.protect_docs``: /docs, /redoc and /openapi.json need a key (when keys are configured)."""
    if gateway.config.gateway.protect_docs:
        authenticate(request, gateway)
