"""The simulator's FastAPI app: vLLM's OpenAI-compatible server, minus the GPU.

``create_app(settings)`` builds one server. Shapes, status codes and error messages follow the
real server (checked against vLLM 0.32 on CPU by ``tests/contract``); see
``/work/shared/design/VLLM_API.md`` for the reference.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrator.protocol import ModelCard, ModelList, ParameterError, TokenizeRequest, TokenizeResponse
from services.expert_sim.completions import router as completions_router
from services.expert_sim.embeddings import router as embeddings_router
from services.expert_sim.faults import hide_drop_tracebacks
from services.expert_sim.metrics import CONTENT_TYPE
from services.expert_sim.settings import VLLM_VERSION, SimSettings
from services.expert_sim.state import SimState, error_json, get_state
from services.expert_sim.tokens import prompt_ids, render_chat

#: Path prefixes vLLM 0.33 guards with ``--api-key``; everything else stays open.
GUARDED_PREFIXES = ("/v1", "/v2", "/inference", "/cohere")

State = Annotated[SimState, Depends(get_state)]


def create_app(settings: SimSettings) -> FastAPI:
    app = FastAPI(title=f"vLLM simulator ({settings.model_name})", version=VLLM_VERSION, docs_url=None, redoc_url=None)
    app.state.sim = SimState(settings)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(completions_router, dependencies=[Depends(_require_json)])
    app.include_router(embeddings_router, dependencies=[Depends(_require_json)])
    _add_server_routes(app)
    if settings.sleep_mode:
        _add_sleep_routes(app)
    if settings.api_key:
        app.add_middleware(BearerAuth, token=settings.api_key)
    hide_drop_tracebacks()
    return app


# --------------------------------------------------------------------------- errors


class _UnsupportedMediaType(Exception):
    pass


async def _require_json(request: Request) -> None:
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type != "application/json":
        raise RequestValidationError(["Unsupported Media Type: Only 'application/json' is allowed"])


def _clean_loc(loc: Any) -> str:
    return ".".join(str(p) for p in loc) if isinstance(loc, (tuple, list)) else str(loc)


def _summarise_input(value: Any) -> Any:
    if isinstance(value, (list, tuple, set, dict)):
        return f"<{type(value).__name__} of {len(value)} items>"
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "...[truncated]"
    return value


def _format_error(err: Any) -> str:
    if not isinstance(err, dict):
        return str(err)
    shown = {k: v for k, v in err.items() if k != "url"}
    if "loc" in shown:
        shown["loc"] = _clean_loc(shown["loc"])
    if "input" in shown:
        shown["input"] = _summarise_input(shown["input"])
    if "ctx" in shown:
        shown["ctx"] = {k: str(v) for k, v in shown["ctx"].items()}
    return str(shown)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """400 (never 422), worded like vLLM's validation handler."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    for err in errors:
        cause = err.get("ctx", {}).get("error") if isinstance(err, dict) else None
        if isinstance(cause, ParameterError):
            return error_json(str(cause), "BadRequestError", 400, cause.parameter)
    param = _clean_loc(errors[0]["loc"]) if errors and isinstance(errors[0], dict) and errors[0].get("loc") else None
    label = "error" if len(errors) == 1 else "errors"
    message = f"{len(errors)} validation {label}:\n" + "".join(f"  {_format_error(e)}\n" for e in errors[:10])
    return error_json(message.rstrip(), HTTPStatus.BAD_REQUEST.phrase, 400, param)


class BearerAuth:
    """``--api-key``: a bearer token on guarded paths; 401 ``{"error": "Unauthorized"}`` otherwise."""

    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self.expected = f"bearer {token}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") != "OPTIONS" and scope["path"].startswith(GUARDED_PREFIXES):
            headers = dict(scope["headers"])
            auth = headers.get(b"authorization", b"").decode("latin-1")
            scheme, _, token = auth.partition(" ")
            if f"{scheme.lower()} {token}" != self.expected:
                await JSONResponse({"error": "Unauthorized"}, status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


# --------------------------------------------------------------------------- server routes


def _add_server_routes(app: FastAPI) -> None:
    @app.get("/health")
    async def health() -> Response:
        return Response(status_code=200)  # still 200 while sleeping, as in vLLM

    @app.api_route("/ping", methods=["GET", "POST"])
    async def ping() -> Response:
        return Response(status_code=200)

    @app.get("/version")
    async def version() -> dict[str, str]:
        return {"version": VLLM_VERSION}

    @app.get("/v1/models")
    async def models(state: State) -> dict[str, Any]:
        s = state.settings
        cards = [
            ModelCard(id=name, root=s.model_root or name, max_model_len=s.max_model_len)
            for name in s.served_model_names
        ]
        return ModelList(data=cards).model_dump()

    @app.get("/metrics")
    async def metrics(state: State) -> Response:
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/load")
    async def load(state: State) -> dict[str, int]:
        return {"server_load": state.engine.running + state.engine.waiting}

    @app.post("/tokenize", dependencies=[Depends(_require_json)])
    async def tokenize(body: TokenizeRequest, state: State) -> Response:
        if body.messages is not None:
            ids = prompt_ids(render_chat(body.messages, body.add_generation_prompt))
        else:
            ids = prompt_ids(body.prompt or "", add_bos=body.add_special_tokens)
        payload = TokenizeResponse(count=len(ids), max_model_len=state.settings.max_model_len, tokens=ids)
        return JSONResponse(payload.model_dump())


def _add_sleep_routes(app: FastAPI) -> None:
    """vLLM's dev-mode sleep API (0.33 bodies); requests sent while asleep wait for wake-up."""

    @app.post("/sleep")
    async def sleep(
        state: State,
        level: Annotated[int, Query(ge=0, le=2)] = 1,
        mode: Literal["abort", "wait", "keep"] = "abort",
    ) -> dict[str, Any]:
        await state.engine.sleep(level, mode)
        return {"status": "sleeping", "level": level}

    @app.post("/wake_up")
    async def wake_up(state: State, tags: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
        await state.engine.wake_up(tags)
        # A partial wake (only some tags) leaves the engine asleep, and vLLM says so.
        return {"status": "sleeping" if state.engine.is_sleeping else "awake", "tags": tags}

    @app.get("/is_sleeping")
    async def is_sleeping(state: State) -> dict[str, bool]:
        return {"is_sleeping": state.engine.is_sleeping}
