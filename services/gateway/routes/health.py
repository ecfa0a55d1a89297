"""Liveness, readiness (the router is loaded and every category has a reachable expert) and
Prometheus metrics. One dead expert does not make the gateway unready while every category
still has another (``?require=all`` asks for every expert, ``?require=any`` for one)."""

from __future__ import annotations

import asyncio
from typing import Literal

import httpx
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from orchestrator.config import ExpertConfig
from orchestrator.protocol import ErrorResponse
from services.gateway.deps import GatewayDep, metrics_auth
from services.gateway.state import GatewayState as GatewayStateT

router = APIRouter(tags=["health"])

PROBE_TIMEOUT_S = 2.0


class ReadyResponse(BaseModel):
    status: Literal["ready", "not ready"]
    router: str
    experts: dict[str, str]  # expert -> ok | unchecked | unreachable (...) | unhealthy (HTTP n)
    categories: dict[str, bool]  # category -> has a reachable expert
    require: str


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


def _category_coverage(gateway: GatewayStateT, up: dict[str, bool]) -> dict[str, bool]:
    """Whether each category the router serves has at least one reachable expert."""
    config = gateway.config
    categories = gateway.catalog.categories if gateway.catalog is not None else []
    experts = [e.name for e in config.experts if "expert" in e.roles]
    return {c: any(up.get(e, False) for e in (config.router.category_experts.get(c) or experts)) for c in categories}


@router.get(
    "/ready",
    summary="Readiness: the router is loaded and every category has a reachable expert",
    responses={
        200: {"model": ReadyResponse, "description": "ready"},
        503: {"model": ReadyResponse, "description": "not ready"},
        400: {"model": ErrorResponse, "description": "unknown value of require"},
    },
)
async def ready(
    gateway: GatewayDep,
    require: Literal["categories", "all", "any"] = Query(
        "categories", description="categories: every category has a reachable expert; all: every expert answers; any: one does"
    ),
) -> JSONResponse:
    async with httpx.AsyncClient() as http:
        states = await asyncio.gather(*(_probe(http, e) for e in gateway.config.experts))
    experts = dict(zip(gateway.config.expert_names, states))
    up = {name: s in ("ok", "unchecked") for name, s in experts.items()}
    categories = _category_coverage(gateway, up)
    if require == "all":
        experts_ok = all(up.values())
    elif require == "any":
        experts_ok = any(up.values())
    else:
        experts_ok = any(up.values()) and all(categories.values())
    router = "loaded" if gateway.pipeline is not None else (gateway.router_error or "not loaded")
    ok = experts_ok and gateway.pipeline is not None
    body = ReadyResponse(status="ready" if ok else "not ready", router=router, experts=experts, categories=categories, require=require)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    dependencies=[Depends(metrics_auth)],
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text format"}, 401: {"model": ErrorResponse, "description": "API key required (gateway.protect_metrics)"}},
)
async def metrics(gateway: GatewayDep) -> Response:
    return Response(gateway.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
