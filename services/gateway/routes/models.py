from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from orchestrator.errors import ModelNotFound
from orchestrator.protocol import ModelCard, ModelList
from services.gateway.deps import GatewayDep, authorize
from services.gateway.openapi import ERRORS

router = APIRouter(tags=["models"], dependencies=[Depends(authorize)])


@router.get(
    "/v1/models", summary="List router/auto, the category aliases and the experts", response_model=None,
    responses={200: {"model": ModelList, "description": "the model list"}, **ERRORS},
)
async def list_models(gateway: GatewayDep) -> Response:
    assert gateway.catalog is not None
    return Response(gateway.catalog.models().model_dump_json(), media_type="application/json")


@router.get(
    "/v1/models/{model:path}", summary="Describe one model", response_model=None,
    responses={200: {"model": ModelCard, "description": "the model card"}, **ERRORS},
)
async def retrieve_model(model: str, gateway: GatewayDep) -> Response:
    assert gateway.catalog is not None
    for card in gateway.catalog.models().data:
        if card.id == model:
            return Response(card.model_dump_json(), media_type="application/json")
    raise ModelNotFound(model)
