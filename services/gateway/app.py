"""``create_app(config)``: the OpenAI-compatible gateway as a FastAPI app.

The factory reads nothing global: keys, limits and components come from ``config`` and the
arguments, and the lifespan starts (and later closes) the expert client, the scheduler and the
router. Tests inject a router, client or scheduler; production passes only the config.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

import orchestrator
from orchestrator.config import Config
from orchestrator.router.artifact import DEFAULT_TIER
from services.gateway.auth import ApiKeys, load_api_keys
from services.gateway.deps import docs_auth
from services.gateway.errors import install_error_handlers
from services.gateway.metrics import GatewayMetrics
from services.gateway.middleware import RequestContext
from services.gateway.openapi import install_docs
from services.gateway.routes import admin, chat, health, models, passthrough, responses, route
from services.gateway.shared_state import make_limiter
from services.gateway.state import GatewayState

__all__ = ["create_app"]

log = logging.getLogger("orchestrator.gateway")


def create_app(
    config: Config,
    *,
    router: Any | None = None,
    client: Any | None = None,
    scheduler: Any | None = None,
    artifacts: str | os.PathLike[str] | None = None,
    router_tier: str = DEFAULT_TIER,
    api_keys: ApiKeys | None = None,
    environ: Mapping[str, str] | None = None,
) -> FastAPI:
    """Build the gateway. ``router``: a fitted router (else loaded from ``artifacts`` or
    ``config.router.artifacts`` at start-up, with embedding tier ``router_tier``); ``client``/``scheduler``: injected expert access
    (else built from ``config``); ``api_keys``: else read from ``config.gateway``."""
    settings = config.gateway
    env = dict(environ) if environ is not None else None
    gateway = GatewayState(
        config=config,
        keys=api_keys if api_keys is not None else load_api_keys(config, env),
        metrics=GatewayMetrics(),
        limiter=make_limiter(config),  # [issue 14] in Redis when gateway.redis_url is set
        artifacts=Path(artifacts) if artifacts is not None else None,
        router_tier=router_tier,
        router=router,
        client=client,
        scheduler=scheduler,
        environ=env,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        hup = _reload_on_sighup(gateway)
        try:
            yield
        finally:
            if hup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            await gateway.aclose()

    app = FastAPI(
        title="Expert orchestrator gateway",
        version=orchestrator.__version__,
        description="OpenAI-compatible API: `router/auto` routes to k experts and aggregates; an expert's name passes through.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.gateway = gateway
    install_error_handlers(app)
    for module in (chat, responses, passthrough, models, route, health, admin):
        app.include_router(module.router)
    install_docs(app, docs_auth)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"], allow_headers=["*"])
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes, metrics=gateway.metrics)
    return app


def _reload_on_sighup(gateway: GatewayState) -> bool:
    """``kill -HUP`` reloads experts.yaml, as nginx and Prometheus do (main thread only)."""
    if gateway.config.source is None or not hasattr(signal, "SIGHUP"):
        return False

    async def reload() -> None:
        try:
            report = await gateway.reload()
        except Exception as exc:  # noqa: BLE001 - a bad edit must never take the gateway down
            log.error("SIGHUP reload of %s failed; keeping the running config:\n%s", gateway.config.source, exc)
            return
        for warning in report.warnings:
            log.warning("reload: %s", warning)

    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reload()))
    except (RuntimeError, ValueError):  # not the main thread (in-process test servers)
        return False
    return True
