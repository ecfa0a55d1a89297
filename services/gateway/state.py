"""Everything the gateway's handlers share, created once in ``create_app`` and started by the lifespan.

Components passed in (``router``, ``client``, ``scheduler``) belong to the caller; the ones
built here are closed here. The pipeline calls experts through the scheduler (batch-by-expert,
residency); a direct pass-through (``model`` = an expert) goes to the client, which still wakes
a sleeping expert through the residency manager but skips the micro-batching wait.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.config import Config
from orchestrator.errors import ArtifactError, ExpertUnavailable
from orchestrator.pipeline import Pipeline
from services.gateway.auth import ApiKeys
from services.gateway.catalog import Catalog
from services.gateway.metrics import GatewayMetrics
from services.gateway.ratelimit import RateLimiter
from services.gateway.router_check import check_router_experts

__all__ = ["GatewayState"]

log = logging.getLogger("orchestrator.gateway")


@dataclass
class GatewayState:
    config: Config
    keys: ApiKeys
    metrics: GatewayMetrics
    limiter: RateLimiter | None = None
    artifacts: Path | None = None
    router_tier: str = "minilm"
    """Embedding tier of a router loaded from artifacts: ``minilm`` or ``static`` (the distilled fast tier)."""
    router: Any | None = None
    client: Any | None = None
    scheduler: Any | None = None
    catalog: Catalog | None = None
    pipeline: Pipeline | None = None
    router_error: str | None = None
    passthrough: Any | None = None
    """Relay for /v1/completions and /v1/embeddings (services.gateway.passthrough)."""
    _owned: list[Any] = field(default_factory=list)

    async def start(self) -> None:
        from orchestrator.experts.client import ExpertClient
        from orchestrator.scheduling.residency import ResidencyManager
        from orchestrator.scheduling.scheduler import Scheduler

        residency = None
        if self.client is None or self.scheduler is None:
            if self.config.scheduler.gpu_memory_budget_gb is not None:
                residency = ResidencyManager(self.config)
        if self.client is None:
            self.client = ExpertClient(self.config, residency=residency)
            self._owned.append(self.client)
        if self.scheduler is None:
            self.scheduler = Scheduler(self.config, self.client, residency=residency)
            await self.scheduler.start()
            self._owned.insert(0, self.scheduler)
        if residency is not None:
            self._owned.append(residency)
        from services.gateway.passthrough import Passthrough

        self.passthrough = Passthrough()
        self._owned.append(self.passthrough)
        self.metrics.bind_scheduler(self.scheduler.stats)
        if self.router is None:
            await self._load_router()
        if self.router is not None:
            self.router, error = check_router_experts(self.router, self.config.expert_names)
            if error is not None:
                self.router_error = error
                log.error(error)
        self.catalog = Catalog(self.config, self.router)
        if self.router is not None:
            self.pipeline = Pipeline(self.config, self.router, self.scheduler.submit)

    async def _load_router(self) -> None:
        path = self.artifacts or self.config.resolve_path(self.config.router.artifacts)
        if path is None or not Path(path).exists():
            self.router_error = f"no router artifacts at {path}; run `orchestrator train` (direct expert models still work)"
            log.warning(self.router_error)
            return
        from orchestrator.router import TwoLevelRouter

        try:
            self.router = await asyncio.to_thread(TwoLevelRouter.load, path, tier=self.router_tier)
            # The first route loads the embedding model (seconds): pay it before serving.
            await asyncio.to_thread(self.router.route, ["warm-up"])
        except ArtifactError as exc:
            self.router_error = f"router artifacts at {path} are unusable: {exc}"
            log.error(self.router_error)

    async def aclose(self) -> None:
        for component in self._owned:
            try:
                await component.aclose()
            except Exception:  # noqa: BLE001 - close the rest even if one fails
                log.exception("closing %s failed", type(component).__name__)
        self._owned.clear()

    def require_pipeline(self) -> Pipeline:
        if self.pipeline is None:
            raise ExpertUnavailable("router", self.router_error or "the router is not loaded")
        return self.pipeline
