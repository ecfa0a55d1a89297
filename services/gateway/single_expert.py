"""``router/*`` requests that need one expert's own output: tools and logprobs.

An ensemble cannot merge tool calls or per-token logprobs, so such a request is routed with
k=1 and then passed through to the chosen expert (streaming included). With ``tools`` only
experts marked ``tool_calling: true`` in experts.yaml are candidates; when none is, or the
client's ``orchestrator.experts`` leaves none, the answer is a 400 that says why: a tool call
is never silently dropped.
"""

from __future__ import annotations

from orchestrator.errors import InvalidRequest
from orchestrator.pipeline import RequestOptions
from orchestrator.pipeline.nodes import last_user_text, route_kwargs
from services.gateway.catalog import Catalog, Target
from services.gateway.params import single_expert_reason
from services.gateway.state import GatewayState
from services.gateway.wire import GatewayChatRequest

__all__ = ["check_category", "route_single_expert"]


def check_category(options: RequestOptions | None, catalog: Catalog) -> None:
    """An ``orchestrator.category`` the gateway does not know is a 400 (never silently ignored)."""
    if options is not None and options.category is not None and options.category not in catalog.categories:
        known = ", ".join(catalog.categories) or "none"
        raise InvalidRequest(f"unknown category {options.category!r}; known categories: {known}", param="orchestrator.category")


def _candidates(gateway: GatewayState, body: GatewayChatRequest, options: RequestOptions) -> list[str] | None:
    """The experts the router may pick for this request (None: any)."""
    allowed = list(options.experts) if options.experts else None
    if not body.tools:
        return allowed
    capable = [e.name for e in gateway.config.experts if e.tool_calling and "expert" in e.roles]
    if not capable:
        raise InvalidRequest(
            f"{body.model or 'router/auto'} cannot serve tools: no expert is marked `tool_calling: true` in experts.yaml "
            "(an ensemble cannot merge tool calls); name a tool-capable expert as the model",
            param="tools",
        )
    chosen = [e for e in capable if allowed is None or e in allowed]
    if not chosen:
        raise InvalidRequest(
            f"none of the requested experts ({', '.join(allowed or [])}) is tool-capable; tool-capable: {', '.join(capable)}",
            param="tools",
        )
    return chosen


async def route_single_expert(
    gateway: GatewayState, body: GatewayChatRequest, target: Target, messages: list[dict]
) -> tuple[Target, dict[str, str]]:
    """Route with k=1 among the allowed experts; the chosen expert as a pass-through target,
    plus response headers saying how it was chosen."""
    options = body.orchestrator or RequestOptions()
    if target.category is not None:
        options = options.model_copy(update={"category": target.category})
    if options.k not in (None, 1):
        reason = single_expert_reason(body)
        raise InvalidRequest(f"{reason} need a single expert's output: k must be 1 (got {options.k})", param="orchestrator.k")
    allowed = _candidates(gateway, body, options)
    if allowed is not None:
        options = options.model_copy(update={"experts": allowed})
    kwargs = {**route_kwargs(options, gateway.config), "k": 1}
    if allowed is not None and kwargs["allowed_experts"] is not None:
        # A pinned category's expert list must not reintroduce experts that cannot serve tools.
        kwargs["allowed_experts"] = [e for e in kwargs["allowed_experts"] if e in allowed] or allowed
    pipeline = gateway.require_pipeline()
    decision = await pipeline.context.route(last_user_text(messages), **kwargs)
    if not decision.chosen:
        raise InvalidRequest(f"the router chose no expert ({decision.fallback_reason or 'no reason given'})", param="model")
    expert = decision.chosen[0]
    headers = {"x-orchestrator-category": decision.category, "x-orchestrator-routed": f"k=1 ({single_expert_reason(body)})"}
    return Target("expert", expert=expert), headers
