from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from services.gateway.deps import GatewayDep, authorize, request_id
from services.gateway.openapi import ERRORS, chat_responses
from services.gateway.serving import ChatService
from services.gateway.wire import GatewayChatRequest

router = APIRouter(tags=["chat"], dependencies=[Depends(authorize)])

_TRACE_ON = {"1", "true", "yes", "on"}


@router.post(
    "/v1/chat/completions",
    summary="Create a chat completion (routed, ensembled or passed through)",
    response_model=None,
    responses={**chat_responses(), **ERRORS},
)
async def create_chat_completion(body: GatewayChatRequest, request: Request, gateway: GatewayDep) -> Response:
    want_trace = request.headers.get("x-orchestrator-trace", "").lower() in _TRACE_ON
    return await ChatService(gateway).create(body, request_id=request_id(request), want_trace=want_trace)
