"""Per-request settings a client may pass (OpenAI extra body field ``orchestrator``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RequestOptions"]


class RequestOptions(BaseModel):
    """Overrides for one request; ``None`` means "use experts.yaml"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: Annotated[int, Field(ge=1, le=16)] | None = Field(default=None, description="number of experts to consult")
    cost_weight: Annotated[float, Field(ge=0)] | None = Field(default=None, description="quality/cost dial")
    budget: Annotated[float, Field(ge=0)] | None = Field(default=None, description="estimated USD ceiling for the expert calls")
    experts: list[str] | None = Field(default=None, min_length=1, description="restrict routing to these experts")
    category: str | None = Field(default=None, description="pin the category (set by the `router/<category>` model aliases)")
    aggregation: Literal["auto", "consensus", "vote", "synthesis", "best"] | None = None
    verify: bool | None = Field(default=None, description="run debate verification (when available)")
    retrieval: Literal["auto", "always", "never"] | None = Field(default=None, description="retrieve per the gate (auto), always, or never")
    index: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$")] | None = Field(default=None, description="retrieve from this index")
    trace: bool = Field(default=False, description="return the full per-step trace in the response")
