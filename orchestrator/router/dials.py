"""experts.yaml's ``router`` dials -> router parameters: one mapping for train, eval and serve.

Training learns state (classifier, skill profiles, quality blend, cost scale, cover selector);
the dials (``k_min``, ``k_max``, ``top_p``, ``selection``, ``entropy_threshold``,
``cost_weight``, ``fallback_category``) only steer how that state becomes a decision. So the
gateway applies the configured dials to a loaded artifact at start-up and on every reload, and
says which ones cannot take effect without retraining instead of silently ignoring them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.config import RouterSettings

__all__ = ["apply_dials", "configure", "load_configured", "router_params"]

DIALS = ("entropy_threshold", "k_min", "k_max", "top_p", "selection", "cost_weight", "fallback_category")


def router_params(settings: RouterSettings | None) -> dict[str, Any]:
    """Constructor keywords of :class:`~orchestrator.router.TwoLevelRouter` from the config's dials."""
    if settings is None:
        return {}
    return {name: getattr(settings, name) for name in DIALS}


def apply_dials(router: Any, settings: RouterSettings) -> list[str]:
    """Set the configured dials on a fitted router; return a warning per dial that cannot apply.

    A dial that needs state the artifact lacks keeps the artifact's value, and the warning
    says so and how to get it (retrain)."""
    warnings: list[str] = []
    params = router_params(settings)
    if params["selection"] == "cover" and not hasattr(router, "cover_"):
        warnings.append("router.selection: 'cover' needs a cover selector this artifact was trained without; "
                        f"keeping {router.selection!r} (retrain with `orchestrator train` to use it)")
        del params["selection"]
    categories = list(getattr(router, "categories_", []))
    learned_map = getattr(router, "category_expert_", {})
    fallback = params["fallback_category"]
    if categories and fallback not in categories and fallback not in learned_map:
        warnings.append(f"router.fallback_category: {fallback!r} is not a category of this artifact "
                        f"({', '.join(categories)}); keeping {router.fallback_category!r} (retrain to change it)")
        del params["fallback_category"]
    if params["cost_weight"] == "cv" and not hasattr(router, "cv_cost_weight_"):
        warnings.append("router.cost_weight: 'cv' needs the cross-validated weight this artifact lacks; using 0 (retrain)")
    router.set_params(**params)
    experts = list(getattr(router, "experts_", []))
    for category, names in settings.category_experts.items():
        usable = [n for n in names if n in experts]
        if not usable:
            warnings.append(f"router.category_experts.{category}: none of {', '.join(names)} is an expert of this artifact; ignored")
        elif isinstance(learned_map, dict):
            learned_map[category] = usable[0]  # the CoE map: config overrides what training learned
    return warnings


def load_configured(path: str | Path, settings: RouterSettings | None, *, tier: str | None = None, embedder: Any = None) -> tuple[Any, list[str]]:
    """Load a router artifact (on ``tier``, default the static tier) and apply experts.yaml's
    dials to it: ``(router, warnings)``; a tier fallback is the first warning."""
    from orchestrator.router.two_level import TwoLevelRouter

    router = TwoLevelRouter.load(path, embedder=embedder, tier=tier)
    return router, configure(router, settings)


def configure(router: Any, settings: RouterSettings | None) -> list[str]:
    """Apply experts.yaml's dials to a router (loaded, or re-dialled on a reload); the warnings
    start with its tier fallback, which outlives dial changes."""
    tier = getattr(router, "tier_warning", None)
    return ([tier] if tier else []) + (apply_dials(router, settings) if settings is not None else [])
