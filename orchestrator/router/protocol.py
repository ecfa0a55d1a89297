"""The seam between the router and whoever asks it: the gateway, the pipeline and evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from orchestrator.router.decision import RoutingDecision

__all__ = ["Router"]


@runtime_checkable
class Router(Protocol):
    """Anything that turns prompts into routing decisions, vectorised over a batch.

    :class:`~orchestrator.router.TwoLevelRouter` is the product's; tests and baselines bring
    their own. ``categories_`` names the categories the router can return (the ``router/<c>``
    model aliases); ``route`` takes the per-request dials as keywords (``k``, ``cost_weight``,
    ``budget``, ``allowed_experts``, ``mode``) and ignores none of them silently.
    """

    categories_: Sequence[str]

    def route(self, prompts: list[str], **kwargs: Any) -> list[RoutingDecision]: ...
