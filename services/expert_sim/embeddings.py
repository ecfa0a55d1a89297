"""``POST /v1/embeddings`` in vLLM's shape, for a simulated pooling (embedding) model.

vLLM serves this route only for pooling models; the simulator serves it for any model, with
deterministic unit vectors derived from the text (same text, same vector), so the gateway's
pass-through can be tested without an embedding model.
"""

from __future__ import annotations

import base64
import math
import random
import struct
import time
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from orchestrator.protocol import EmbeddingRequest, random_id
from services.expert_sim.state import RequestRejected, SimState, get_state
from services.expert_sim.tokens import count_text

__all__ = ["router"]

router = APIRouter()
DIMENSIONS = 64


def _vector(text: str, dims: int) -> list[float]:
    rng = random.Random(text)
    raw = [rng.gauss(0, 1) for _ in range(dims)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [v / norm for v in raw]


def _encoded(vector: list[float], encoding_format: str) -> list[float] | str:
    """``float``: a JSON list; ``base64``: little-endian float32 bytes (what the openai SDK asks for)."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


@router.post("/v1/embeddings")
async def create_embeddings(body: EmbeddingRequest, state: SimState = Depends(get_state)) -> Response:
    try:
        state.check_model(body.model)
    except RequestRejected as exc:
        return exc.response
    inputs: list[Any] = [body.input] if isinstance(body.input, str) or (body.input and isinstance(body.input[0], int)) else list(body.input)
    texts = [t if isinstance(t, str) else " ".join(map(str, t)) for t in inputs]
    dims = body.dimensions or DIMENSIONS
    tokens = sum(count_text(t) for t in texts)
    payload = {
        "id": random_id("embd"),
        "object": "list",
        "created": int(time.time()),
        "model": state.settings.model_name,
        "data": [{"index": i, "object": "embedding", "embedding": _encoded(_vector(t, dims), body.encoding_format)} for i, t in enumerate(texts)],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0, "prompt_tokens_details": None},
    }
    return JSONResponse(payload)
