from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from orchestrator.errors import ModelNotFound
from services.gateway.deps import GatewayDep, authorize

router = APIRouter(tags=["models"], dependencies=[Depends(authorize)])


@router.get("/v1/models", summary="List router/auto, the category aliases and the experts", response_model=None)
async def list_models(gateway: GatewayDep) -> Response:
    assert gateway.catalog is not None
    return Response(gateway.catalog.models().model_dump_json(), media_type="application/json")


@router.get("/v1/models/{model:path}", summary="Describe one model", response_model=None)
async def retrieve_model(model: str, gateway: GatewayDep) -> Response:
    assert gateway.catalog is not None
    for card in gateway.catalog.models().data:
        if card.id == model:
            return Response(card.model_dump_json(), media_type="application/json")
    raise ModelNotFound(model)
