"""``POST /v1/responses``: OpenAI's Responses API (text in, text out) over the chat pipeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from services.gateway.deps import GatewayDep, authorize, request_id
from services.gateway.openapi import ERRORS
from services.gateway.responses_api import ResponsesRequest, chat_request, respond
from services.gateway.serving import ChatService

router = APIRouter(tags=["responses"], dependencies=[Depends(authorize)])

_RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "object", "created_at", "model", "output", "status"],
    "properties": {"id": {"type": "string"}, "object": {"const": "response"}, "output": {"type": "array"}, "status": {"type": "string"}},
}


@router.post(
    "/v1/responses",
    summary="Create a model response (Responses API, text only)",
    response_model=None,
    responses={
        200: {
            "description": "a response object, or an SSE stream of Responses events",
            "content": {"application/json": {"schema": _RESPONSE_SCHEMA}, "text/event-stream": {"schema": {"type": "string"}}},
        },
        **ERRORS,
    },
)
async def create_response(body: ResponsesRequest, request: Request, gateway: GatewayDep) -> Response:
    chat = await ChatService(gateway).create(chat_request(body), request_id=request_id(request), want_trace=False)
    return await respond(body, chat)
