"""The OpenAPI document describes what the gateway really answers.

FastAPI documents a 422 for every route with a body, which this gateway never sends (request
validation is a 400, as in OpenAI and vLLM); each route instead lists the statuses it can
return with OpenAI's error envelope, and its 200 with the real JSON schema (plus the
``text/event-stream`` alternative where the route streams). ``install_docs`` serves
``/openapi.json``, ``/docs`` and ``/redoc``, behind an API key when ``gateway.protect_docs``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict
from starlette.responses import HTMLResponse, JSONResponse

from orchestrator.protocol import ChatCompletionResponse, CompletionResponse, ErrorResponse, UsageInfo

__all__ = [
    "ERRORS",
    "chat_responses",
    "completion_responses",
    "embedding_responses",
    "install_docs",
]

_ERROR_DESCRIPTIONS = {
    400: "Invalid request (a field out of range, malformed JSON...); `param` names the field",
    401: "Missing or invalid API key",
    404: "Unknown model, or a model that does not serve this endpoint",
    413: "Request body too large",
    429: "Rate limited (see Retry-After)",
    500: "Internal error (the deployment is misconfigured)",
    502: "The expert answered with an error",
    503: "No expert reachable, or the router is not loaded",
    504: "The expert did not answer in time",
}
#: Every error status a model-serving route can return, with OpenAI's error envelope.
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse, "description": d} for code, d in _ERROR_DESCRIPTIONS.items()}
_SSE = {"text/event-stream": {"schema": {"type": "string", "description": "server-sent events, ending with `data: [DONE]`"}}}


class EmbeddingData(BaseModel):
    model_config = ConfigDict(extra="allow")
    index: int
    object: str = "embedding"
    embedding: list[float] | str


class EmbeddingResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    object: str = "list"
    model: str
    data: list[EmbeddingData]
    usage: UsageInfo


def chat_responses() -> dict[int | str, dict[str, Any]]:
    return {200: {"model": ChatCompletionResponse, "content": _SSE, "description": "chat.completion, or an SSE stream of chat.completion.chunk"}}


def completion_responses() -> dict[int | str, dict[str, Any]]:
    return {200: {"model": CompletionResponse, "content": _SSE, "description": "text_completion, or an SSE stream of its chunks"}}


def embedding_responses() -> dict[int | str, dict[str, Any]]:
    return {200: {"model": EmbeddingResponse, "description": "a list of embeddings"}}


def _without_422(schema: dict[str, Any]) -> dict[str, Any]:
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict):
                operation.get("responses", {}).pop("422", None)
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def install_docs(app: FastAPI, auth: Any) -> None:
    """Serve the cleaned OpenAPI document and the docs UIs (``auth``: a dependency, or None)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = _without_422(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    router = APIRouter(include_in_schema=False, dependencies=[Depends(auth)])

    @router.get("/openapi.json")
    async def openapi_json() -> JSONResponse:
        return JSONResponse(openapi())

    @router.get("/docs")
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - docs")

    @router.get("/redoc")
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} - ReDoc")

    app.include_router(router)
