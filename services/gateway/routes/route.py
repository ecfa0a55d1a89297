"""``POST /v1/route``: the routing decision for a prompt, without calling any expert."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import JSONResponse

from orchestrator.errors import InvalidRequest
from orchestrator.pipeline import RequestOptions
from orchestrator.pipeline.nodes import last_user_text, route_kwargs
from orchestrator.protocol import ChatMessage
from services.gateway.deps import GatewayDep, authorize
from services.gateway.openapi import ERRORS
from services.gateway.single_expert import check_category
from services.gateway.wire import finite

router = APIRouter(tags=["routing"], dependencies=[Depends(authorize)])


class RouteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(default="router/auto", description="router/auto or router/<category>")
    prompt: str | None = Field(default=None, description="the text to route (or give messages)")
    messages: list[ChatMessage] | None = Field(default=None, min_length=1)
    orchestrator: RequestOptions | None = None

    @model_validator(mode="after")
    def _one_input(self) -> RouteRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' and 'messages'")
        return self


@router.post(
    "/v1/route", summary="Routing decision only (no expert is called)", response_model=None,
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}, "description": "the routing decision"}, **ERRORS},
)
async def route_request(body: RouteRequest, gateway: GatewayDep) -> JSONResponse:
    assert gateway.catalog is not None
    target = gateway.catalog.resolve(body.model)
    if target.kind != "pipeline":
        raise InvalidRequest("routing applies to router/auto and router/<category> models", param="model")
    check_category(body.orchestrator, gateway.catalog)
    options = body.orchestrator or RequestOptions()
    if target.category is not None:
        options = options.model_copy(update={"category": target.category})
    prompt = body.prompt if body.prompt is not None else last_user_text([m.model_dump() for m in body.messages or []])
    pipeline = gateway.require_pipeline()
    started = time.perf_counter()
    decision = await pipeline.context.route(prompt, **route_kwargs(options, gateway.config))
    elapsed_ms = (time.perf_counter() - started) * 1000
    gateway.metrics.routing.observe(elapsed_ms / 1000)
    mode = pipeline.context.aggregator.mode_for(options.category or decision.category, options.aggregation)
    payload: dict[str, Any] = {"model": body.model, "decision": decision.to_dict(), "aggregation": mode, "routing_ms": round(elapsed_ms, 3)}
    return JSONResponse(finite(payload))
