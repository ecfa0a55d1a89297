"""The one place exceptions become HTTP statuses and OpenAI-style error envelopes.

Every 4xx/5xx the gateway sends has the body ``{"error": {"message", "type", "param", "code"}}``
(vLLM's envelope; ``code`` equals the HTTP status), which the ``openai`` SDK turns into its own
exception classes. Request validation failures are 400, not FastAPI's 422, as in OpenAI/vLLM.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from orchestrator.errors import (
    ExpertError,
    ExpertResponseError,
    ExpertTimeout,
    ExpertUnavailable,
    InvalidRequest,
    ModelNotFound,
    OrchestratorError,
)
from orchestrator.protocol import error_response

__all__ = ["GatewayHTTPError", "error_body", "error_event", "install_error_handlers", "json_error", "public_message", "status_for"]

log = logging.getLogger("orchestrator.gateway")

_TYPES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    405: "MethodNotAllowed",
    413: "RequestTooLargeError",
    415: "UnsupportedMediaType",
    429: "RateLimitError",
    500: "InternalServerError",
    502: "BadGatewayError",
    503: "ServiceUnavailableError",
    504: "GatewayTimeoutError",
}


class GatewayHTTPError(Exception):
    """An error the gateway itself decides on (auth, limits), with optional extra headers."""

    def __init__(self, status: int, message: str, *, param: str | None = None, headers: dict[str, str] | None = None):
        self.status = status
        self.message = message
        self.param = param
        self.headers = headers or {}
        super().__init__(message)


def status_for(exc: BaseException) -> int:
    """HTTP status of a library error (see the table in docs)."""
    if isinstance(exc, ModelNotFound):
        return 404
    if isinstance(exc, InvalidRequest):
        return 400
    if isinstance(exc, ExpertTimeout):
        return 504
    if isinstance(exc, ExpertUnavailable):
        return 503
    if isinstance(exc, ExpertResponseError):
        # The expert rejected the request itself (context too long...): the client's fault.
        return exc.status_code if 400 <= exc.status_code < 500 and exc.status_code not in (408, 429) else 502
    if isinstance(exc, ExpertError):
        return 502
    return 500  # RoutingError, ArtifactError, ConfigError: the deployment is wrong, not the request


_URL = re.compile(r"\b(?:https?|wss?)://[^\s'\"),]+")


def public_message(message: str) -> str:
    """``message`` without internal addresses: an expert is named, never its URL."""
    return _URL.sub("<expert endpoint>", message)


def error_body(status: int, message: str, param: str | None = None) -> bytes:
    return error_response(public_message(message), _TYPES.get(status, "Error"), status, param).model_dump_json().encode()


def json_error(status: int, message: str, *, param: str | None = None, headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(status, message, param), status_code=status, media_type="application/json", headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors: list[dict[str, Any]] = list(exc.errors())
    if not errors:
        return "invalid request", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    if first.get("type") == "json_invalid":
        return f"The request body is not valid JSON: {first.get('msg')}", None
    parts = [f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}" for e in errors[:5]]
    return "; ".join(parts), param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        message, param = _validation_message(exc)
        return json_error(400, message, param=param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return json_error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(GatewayHTTPError)
    async def _gateway(request: Request, exc: GatewayHTTPError) -> Response:
        return json_error(exc.status, exc.message, param=exc.param, headers=exc.headers)

    @app.exception_handler(OrchestratorError)
    async def _library(request: Request, exc: OrchestratorError) -> Response:
        status = status_for(exc)
        _count(request, exc)
        if status >= 500:
            log.warning("request %s failed: %s: %s", _rid(request), type(exc).__name__, exc)
        return json_error(status, str(exc), param=getattr(exc, "param", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        _count(request, exc)
        log.exception("request %s: unexpected error", _rid(request))
        return json_error(500, f"internal error ({type(exc).__name__}); request id {_rid(request)}")


def _rid(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "-")


def _count(request: Request, exc: BaseException) -> None:
    metrics = getattr(getattr(request.app.state, "gateway", None), "metrics", None)
    if metrics is not None:
        metrics.errors.labels(type=type(exc).__name__).inc()


def error_event(exc: BaseException) -> str:
    """A mid-stream failure as vLLM sends it: ``data: {"error": {...}}`` (then ``[DONE]``)."""
    status = status_for(exc)
    return "data: " + json.dumps({"error": json.loads(error_body(status, str(exc), getattr(exc, "param", None)))["error"]}) + "\n\n"
