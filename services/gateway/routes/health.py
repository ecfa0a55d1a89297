"""Liveness, readiness (the router is loaded and the experts answer) and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Literal

import httpx
from fastapi import APIRouter, Query
from starlette.responses import JSONResponse, Response

from orchestrator.config import ExpertConfig
from services.gateway.deps import GatewayDep

router = APIRouter(tags=["health"])

PROBE_TIMEOUT_S = 2.0


@router.get("/health", summary="Liveness: the process serves HTTP")
async def health() -> dict[str, str]:
    return {"status": "ok"}


async def _probe(http: httpx.AsyncClient, expert: ExpertConfig) -> str:
    if expert.server_root is None:
        return "unchecked"  # a hosted provider: nothing local to probe
    try:
        response = await http.get(f"{expert.server_root}/health", timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ok" if response.status_code == 200 else f"unhealthy (HTTP {response.status_code})"


@router.get("/ready", summary="Readiness: router loaded and experts reachable")
async def ready(gateway: GatewayDep, require: Literal["all", "any"] = Query("all", description="experts that must answer")) -> JSONResponse:
    async with httpx.AsyncClient() as http:
        states = await asyncio.gather(*(_probe(http, e) for e in gateway.config.experts))
    experts = dict(zip(gateway.config.expert_names, states))
    up = [s in ("ok", "unchecked") for s in states]
    experts_ok = all(up) if require == "all" else any(up)
    router = "loaded" if gateway.pipeline is not None else (gateway.router_error or "not loaded")
    ok = experts_ok and gateway.pipeline is not None
    body = {"status": "ready" if ok else "not ready", "router": router, "experts": experts}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(gateway: GatewayDep) -> Response:
    return Response(gateway.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
