"""Everything the gateway's handlers share, created once in ``create_app`` and started by the lifespan.

Components passed in (``router``, ``client``, ``scheduler``) belong to the caller; the ones
built here are closed here. Every expert call, routed or direct, goes through the scheduler
(batch-by-expert, residency): a direct pass-through takes its zero-wait lane.

experts.yaml is the truth at serve time: the router's dials come from the config when the
artifact loads, and :meth:`GatewayState.reload` swaps in an edited config (SIGHUP, or
``POST /admin/reload``) after validating it, keeping the old one when the new one is broken.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.config import Config, load_config
from orchestrator.errors import ArtifactError, ConfigError, ExpertUnavailable
from orchestrator.experts.client import ExpertClient
from orchestrator.pipeline import Pipeline
from orchestrator.pipeline.runner import deployment_cascade
from orchestrator.router.artifact import DEFAULT_TIER
from orchestrator.router.protocol import Router
from orchestrator.scheduling.scheduler import Scheduler
from services.gateway.auth import ApiKeys, load_api_keys
from services.gateway.catalog import Catalog
from services.gateway.heap import freeze_long_lived
from services.gateway.metrics import GatewayMetrics
from services.gateway.shared_state import make_limiter
from services.gateway.router_check import check_router_experts

__all__ = ["GatewayState", "ReloadReport"]

log = logging.getLogger("orchestrator.gateway")

DRAIN_TIMEOUT_S = 120.0
"""How long replaced experts' in-flight requests may take before their scheduler closes."""


@dataclass
class ReloadReport:
    """What a reload changed, and what it could not apply."""

    source: str | None
    changed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"reloaded": True, "source": self.source, "changed": self.changed, "warnings": self.warnings}


@dataclass
class GatewayState:
    config: Config
    keys: ApiKeys
    metrics: GatewayMetrics
    limiter: Any | None = None  # RateLimiter, or RedisRateLimiter shared by replicas
    artifacts: Path | None = None
    router_tier: str = DEFAULT_TIER
    """Embedding tier of a router loaded from artifacts: ``static`` (the distilled fast tier; MiniLM
    with a warning when the artifact lacks it) or ``minilm``."""
    router: Router | None = None
    client: ExpertClient | None = None
    scheduler: Scheduler | None = None
    catalog: Catalog | None = None
    pipeline: Pipeline | None = None
    router_error: str | None = None
    router_warnings: list[str] = field(default_factory=list)
    """Dials of experts.yaml that the loaded artifact cannot honour (retraining needed)."""
    environ: dict[str, str] | None = None
    passthrough: Any | None = None
    """Relay for /v1/completions and /v1/embeddings (services.gateway.passthrough)."""
    _owned: list[Any] = field(default_factory=list)
    _loaded_from: Path | None = None
    _reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def start(self) -> None:
        if self.scheduler is None:
            self.scheduler = await self._start_scheduler(self.config, self.client)
            self._owned.append(self.scheduler)
        self.client = self.scheduler.client
        if hasattr(self.limiter, "aclose"):
            self._owned.append(self.limiter)  # [issue 14] the Redis limiter's connection pool
        from services.gateway.passthrough import Passthrough

        self.passthrough = Passthrough()
        self._owned.append(self.passthrough)
        self.metrics.bind_scheduler(self.scheduler.stats)
        if self.router is None:
            await self._load_router(self.config)
        elif hasattr(self.router, "set_params"):
            self.router_warnings = _apply_dials(self.router, self.config)
        self._rebuild()
        freeze_long_lived()

    async def _start_scheduler(self, config: Config, client: ExpertClient | None) -> Scheduler:
        """A scheduler (with its residency manager when a memory budget is set) over ``client``,
        or over a new client this state owns."""
        from orchestrator.scheduling.coordination import coordinator_for
        from orchestrator.scheduling.residency import ResidencyManager

        owns_client = client is None
        client = client or ExpertClient(config)
        residency = None
        if config.scheduler.gpu_memory_budget_gb is not None:
            # [issue 14] replicas share residency through Redis when gateway.redis_url is set
            residency = ResidencyManager(config, coordinator=coordinator_for(config))
        scheduler = _OwnedScheduler(config, client, residency=residency, owns_client=owns_client)
        await scheduler.start()
        return scheduler

    def _rebuild(self) -> None:
        """Catalog and pipeline from the current config, router and scheduler. A router trained
        for other experts routes only among those experts.yaml has, or not at all."""
        assert self.scheduler is not None
        self.catalog = Catalog(self.config, self.router)
        self.pipeline = None
        if self.router is None:
            return
        routed, error = check_router_experts(self.router, self.config.expert_names)
        self.router_error = error
        if routed is None:
            log.error(error)
            return
        try:
            self.pipeline = Pipeline(self.config, routed, self.scheduler.submit, stream=self.scheduler.stream)
        except ConfigError as exc:  # escalation.default names a dial this artifact lacks
            self.router_error = f"routed models are off until experts.yaml or the artifact is fixed: {exc}"
            log.error(self.router_error)

    def _artifact_path(self, config: Config) -> Path | None:
        return self.artifacts or config.resolve_path(config.router.artifacts)

    async def _load_router(self, config: Config) -> None:
        path = self._artifact_path(config)
        if path is None or not Path(path).exists():
            self.router_error = f"no router artifacts at {path}; run `orchestrator train` (direct expert models still work)"
            log.warning(self.router_error)
            return
        from orchestrator.router.dials import load_configured

        try:
            router, warnings = await asyncio.to_thread(load_configured, path, config.router, tier=self.router_tier)
            # The first route loads the embedding model (seconds): pay it before serving.
            await asyncio.to_thread(router.route, ["warm-up"])
        except ArtifactError as exc:
            self.router_error = f"router artifacts at {path} are unusable: {exc}"
            log.error(self.router_error)
            return
        self.router, self.router_warnings, self.router_error, self._loaded_from = router, warnings, None, Path(path)
        _log_dial_warnings(router, warnings)

    # ------------------------------------------------------------------ reload

    async def reload(self, path: str | Path | None = None) -> ReloadReport:
        """Read experts.yaml again (or ``path``), validate it, and swap it in.

        A config that fails validation raises :class:`ConfigError` and changes nothing. Router
        dials apply to the loaded artifact (a new artifact path loads that artifact); changed
        experts or scheduler settings get a new scheduler while the old one finishes its
        in-flight requests; keys and rate limits are re-read. Settings that only take effect
        at start-up (host, port, body size, CORS) are reported as warnings."""
        source = path or self.config.source
        if source is None:
            raise ConfigError("this gateway was started from an in-memory config: there is no file to reload")
        async with self._reload_lock:
            new = await asyncio.to_thread(load_config, source)  # ConfigError: the old config stays
            report = ReloadReport(str(source))
            old = self.config
            changed = [name for name in type(new).model_fields if name != "source" and getattr(new, name) != getattr(old, name)]
            report.changed = changed
            if self.router is not None and self._same_artifact(new):
                deployment_cascade(new, getattr(self.router, "escalation_", None))  # ConfigError: a dial this artifact lacks, the old config stays
            await self._reload_router(new, report)
            retired = await self._reload_experts(new, changed, report)
            if "gateway" in changed:
                self._reload_gateway(new, report)
            self.config = new
            self._rebuild()
            if self.pipeline is None and self.router_error is not None and self.router is not None:
                report.warnings.append(self.router_error)  # e.g. a new artifact without escalation.default's dial
            if retired is not None:
                asyncio.get_running_loop().create_task(_retire(retired))
            freeze_long_lived(collect=True)
            log.info("reloaded %s: changed %s", source, ", ".join(changed) or "nothing")
            return report

    async def _reload_experts(self, new: Config, changed: list[str], report: ReloadReport) -> Scheduler | None:
        """A new scheduler (and client) for changed experts or scheduler settings; returns the
        old scheduler, to retire once its in-flight requests finish."""
        if "experts" not in changed and "scheduler" not in changed:
            return None
        old = self.scheduler
        assert old is not None
        owns_client = isinstance(old, _OwnedScheduler) and old.owns_client
        if old not in self._owned or ("experts" in changed and not owns_client):
            report.warnings.append("experts or scheduler changed, but this gateway was given its expert access: restart to apply")
            return None
        self.scheduler = await self._start_scheduler(new, None if owns_client else old.client)
        self._owned[self._owned.index(old)] = self.scheduler
        self.client = self.scheduler.client
        self.metrics.bind_scheduler(self.scheduler.stats)
        return old

    def _same_artifact(self, new: Config) -> bool:
        """Whether ``new`` keeps the loaded router (an injected one is always kept)."""
        return self._loaded_from is None or self._artifact_path(new) == self._loaded_from

    async def _reload_router(self, new: Config, report: ReloadReport) -> None:
        if self.router is not None and self._same_artifact(new):
            if hasattr(self.router, "set_params"):
                # Dials go on a copy, so requests routing right now keep a consistent set.
                router = copy.copy(self.router)
                self.router_warnings = _apply_dials(router, new)
                self.router = router
                report.warnings.extend(self.router_warnings)
            return
        previous = self.router
        await self._load_router(new)
        if self.router_error is not None:
            report.warnings.append(self.router_error + ("; kept the previous router" if previous is not None else ""))
            if previous is not None:
                self.router_error = None  # still serving with the previous artifact
        else:
            report.warnings.extend(self.router_warnings)

    def _reload_gateway(self, new: Config, report: ReloadReport) -> None:
        old, now = self.config.gateway, new.gateway
        self.keys = load_api_keys(new, self.environ)
        shared = ("rate_limit_rpm", "redis_url", "redis_url_env", "redis_failure")
        if any(getattr(now, k) != getattr(old, k) for k in shared):
            if self.limiter in self._owned:
                self._owned.remove(self.limiter)
                asyncio.get_running_loop().create_task(self.limiter.aclose())
            self.limiter = make_limiter(new)
            if hasattr(self.limiter, "aclose"):
                self._owned.append(self.limiter)
        fixed = [k for k in ("host", "port", "max_body_bytes", "cors_origins") if getattr(now, k) != getattr(old, k)]
        if fixed:
            report.warnings.append(f"gateway.{', gateway.'.join(fixed)} apply only at start-up: restart the gateway")

    # ------------------------------------------------------------------ lifecycle

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

    def require_scheduler(self) -> Scheduler:
        assert self.scheduler is not None, "the gateway's lifespan has not started"
        return self.scheduler


class _OwnedScheduler(Scheduler):
    """A scheduler that also closes its residency manager and (when it made it) its client."""

    def __init__(self, *args: Any, owns_client: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.owns_client = owns_client

    async def aclose(self) -> None:
        await super().aclose()
        if self.residency is not None:
            await self.residency.aclose()
        if self.owns_client:
            await self.client.aclose()


def _apply_dials(router: Any, config: Config) -> list[str]:
    from orchestrator.router.dials import configure

    warnings = configure(router, config.router)
    _log_dial_warnings(router, warnings)
    return warnings


def _log_dial_warnings(router: Any, warnings: list[str]) -> None:
    for warning in warnings:
        if warning != getattr(router, "tier_warning", None):  # the artifact loader logged that one itself
            log.warning("experts.yaml: %s", warning)


async def _retire(scheduler: Scheduler) -> None:
    """Let a replaced scheduler finish what it started, then close it."""
    if not await scheduler.drain(DRAIN_TIMEOUT_S):
        log.warning("replaced experts still busy after %.0f s; closing them anyway", DRAIN_TIMEOUT_S)
    await scheduler.aclose()
