"""Start-up check of a router artifact against experts.yaml.

A router trained for other experts would route every request to a name the gateway cannot
call. At start-up the gateway compares the router's experts (``experts_``) with the config:
no expert in common refuses the router (``/ready`` says why, direct expert models still
work); some unknown ones are logged as a warning and routing is restricted to the experts
both know, so a request never reaches a name experts.yaml lacks.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["KnownExperts", "check_router_experts"]

log = logging.getLogger("orchestrator.gateway")


class KnownExperts:
    """A router restricted to ``known`` experts (every other attribute is the router's own)."""

    def __init__(self, router: Any, known: list[str]):
        self._router = router
        self.known = known

    def __getattr__(self, name: str) -> Any:
        return getattr(self._router, name)

    def route(self, prompts: list[str], *args: Any, allowed_experts: list[str] | None = None, **kwargs: Any) -> Any:
        allowed = [e for e in (allowed_experts or self.known) if e in self.known] or self.known
        return self._router.route(prompts, *args, allowed_experts=allowed, **kwargs)


def check_router_experts(router: Any, configured: list[str]) -> tuple[Any, str | None]:
    """``(router to use, error)``: the router as is, restricted, or None with the reason."""
    trained = list(getattr(router, "experts_", None) or [])
    if not trained:
        return router, None  # nothing to compare (an injected test router)
    known = [e for e in trained if e in configured]
    unknown = [e for e in trained if e not in configured]
    if not known:
        return None, (
            f"the router was trained for experts {', '.join(trained)}, none of which is in experts.yaml "
            f"({', '.join(configured)}); retrain it with `orchestrator train` for this config"
        )
    if unknown:
        log.warning("the router knows experts missing from experts.yaml (%s): routing only among %s", ", ".join(unknown), ", ".join(known))
        return KnownExperts(router, known), None
    return router, None
