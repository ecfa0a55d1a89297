"""``POST /v1/completions`` and ``POST /v1/embeddings``: relayed to the expert named as ``model``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from orchestrator.protocol import CompletionRequest, EmbeddingRequest
from services.gateway.deps import GatewayDep, authorize
from services.gateway.openapi import ERRORS, completion_responses, embedding_responses
from services.gateway.state import GatewayState

router = APIRouter(tags=["pass-through"], dependencies=[Depends(authorize)])


@router.post(
    "/v1/completions",
    summary="Create a text completion on one expert (passed through)",
    response_model=None,
    responses={**completion_responses(), **ERRORS},
)
async def create_completion(body: CompletionRequest, gateway: GatewayDep) -> Response:
    return await _forward(gateway, "/v1/completions", body, completion=True)


@router.post(
    "/v1/embeddings",
    summary="Create embeddings on one expert (passed through)",
    response_model=None,
    responses={**embedding_responses(), **ERRORS},
)
async def create_embeddings(body: EmbeddingRequest, gateway: GatewayDep) -> Response:
    return await _forward(gateway, "/v1/embeddings", body)


async def _forward(gateway: GatewayState, route: str, body: CompletionRequest | EmbeddingRequest, *, completion: bool = False) -> Response:
    """Relay ``body`` to ``route`` of the expert it names (404 for anything else), in the
    scheduler's zero-wait lane; ``completion``: count it with the gateway's completions."""
    assert gateway.catalog is not None and gateway.passthrough is not None
    expert = gateway.passthrough.expert_for(gateway.catalog, body.model, route)
    if completion:
        gateway.metrics.completions.labels(kind="expert").inc()
    slot = gateway.require_scheduler().slot
    return await gateway.passthrough.relay(expert, route, body.model_dump(exclude_unset=True), body.model or expert.name, slot=slot)
