"""``POST /admin/reload``: re-read experts.yaml without a restart (the same as ``kill -HUP``).

Behind its own key (``gateway.admin_key_env``), apart from the API keys that call models: an
application key must not reconfigure the gateway. With no admin key set the route answers 403.
"""

from __future__ import annotations

import hmac
import os

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from orchestrator.errors import ConfigError
from services.gateway.deps import GatewayDep
from services.gateway.errors import GatewayHTTPError

router = APIRouter(tags=["admin"])


def _check_admin(request: Request, gateway: GatewayDep) -> None:
    name = gateway.config.gateway.admin_key_env
    env = gateway.environ if gateway.environ is not None else os.environ
    expected = env.get(name, "") if name else ""
    if not expected:
        raise GatewayHTTPError(403, "The admin API is off: set gateway.admin_key_env in experts.yaml and that environment variable.")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise GatewayHTTPError(401, "Missing or invalid admin key: send 'Authorization: Bearer <admin key>'.", headers={"WWW-Authenticate": "Bearer"})


@router.post(
    "/admin/reload",
    summary="Reload experts.yaml (validated first; a broken file keeps the running config)",
    responses={
        200: {"description": "Reloaded: the sections that changed, and warnings for what needs a retrain or restart"},
        400: {"description": "The new file is invalid; nothing changed"},
        401: {"description": "Missing or invalid admin key"},
        403: {"description": "The admin API is off"},
    },
)
async def reload_config(request: Request, gateway: GatewayDep) -> JSONResponse:
    _check_admin(request, gateway)
    try:
        report = await gateway.reload()
    except ConfigError as exc:
        problems = [str(p) for p in exc.problems]
        message = "experts.yaml was not reloaded (the running config stays): " + "; ".join(problems)
        raise GatewayHTTPError(400, message, param="experts.yaml") from exc
    return JSONResponse(report.to_dict())
