"""Per-request settings a client may pass (OpenAI extra body field ``orchestrator``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.escalation.options import EscalationOptions

__all__ = ["RequestOptions", "VerifyOptions"]


class VerifyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    when: Literal["off", "auto", "always"] = "auto"
    mode: Literal["debate", "consultancy", "mad"] | None = Field(default=None, description="default: verification.mode")


class RequestOptions(BaseModel):
    """Overrides for one request; ``None`` means "use experts.yaml"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: Annotated[int, Field(ge=1, le=16)] | None = Field(default=None, description="number of experts to consult")
    cost_weight: Annotated[float, Field(ge=0)] | None = Field(default=None, description="quality/cost dial")
    budget: Annotated[float, Field(ge=0)] | None = Field(default=None, description="estimated USD ceiling for the expert calls")
    experts: list[str] | None = Field(default=None, min_length=1, description="restrict routing to these experts")
    category: str | None = Field(default=None, description="pin the category (set by the `router/<category>` model aliases)")
    aggregation: Literal["auto", "consensus", "vote", "synthesis", "best"] | None = None
    verify: VerifyOptions | Literal["off", "auto", "always"] | bool | None = Field(
        default=None, description="debate verification: off|auto|always, or {when, mode}; true = always, false = off"
    )
    retrieval: Literal["auto", "always", "never"] | None = Field(default=None, description="retrieve per the gate (auto), always, or never")
    index: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$")] | None = Field(default=None, description="retrieve from this index")
    trace: bool = Field(default=False, description="return the full per-step trace in the response")
    escalation: EscalationOptions | None = Field(default=None, description="cascade: cheapest trusted expert first, escalate on low confidence")

    def verify_plan(self, enabled_by_default: bool) -> tuple[str, str | None]:
        """(when, mode) for this request: its own ``verify`` or experts.yaml's default."""
        v = self.verify
        if v is None:
            return ("auto" if enabled_by_default else "off"), None
        if isinstance(v, bool):
            return ("always" if v else "off"), None
        if isinstance(v, str):
            return v, None
        return v.when, v.mode
