"""The per-request escalation option (``orchestrator.escalation`` in the request body)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from orchestrator.errors import InvalidRequest
from orchestrator.escalation.signals import FEATURES, TierModels

__all__ = ["PLAN_FIELDS", "EscalationOptions", "resolve_dial"]

PLAN_FIELDS = ("threshold", "probes", "max_tiers", "probe_cost_weight", "merge")
"""What a tuned setting decides (``dial``): everything but the signal."""
_PARAM = "orchestrator.escalation.dial"


class EscalationOptions(BaseModel):
    """Ask the cheapest trusted expert(s) first; accept when ``signal >= threshold``, else escalate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal: Literal["agreement", "router", "logprob", "posterior", "learned"] = Field(
        default="router", description="confidence signal: answers agreeing, router P(correct), token log-probabilities, "
                                      "the answer's posterior (a vote weighted by the router's per-query reliabilities), "
                                      "or `learned`, a model over all of them fitted by `orchestrator train` (needs `dial`)")
    threshold: float = Field(default=0.7, ge=0.0, le=1.0, description="accept the current answer when the signal is at least this")
    probes: int = Field(default=1, ge=1, le=4, description="experts asked in the first tier (agreement needs 2+)")
    max_tiers: int = Field(default=3, ge=1, le=3, description="1: first tier only; 2: + the strongest expert; 3: + a vote")
    probe_cost_weight: float = Field(default=0.3, ge=0.0, description="cost weight the first tier is chosen with (higher = cheaper)")
    merge: Literal["vote", "strongest"] = Field(
        default="vote", description="vote: answers weighted by router P(correct); strongest: the best-rated expert called answers")
    dial: Literal["match", "beat"] | None = Field(
        default=None, description="use the setting `orchestrator train` tuned for this signal on train CV: `match` = the cheapest "
                                  "that matched best single's accuracy, `beat` = the most accurate within its cost; sets "
                                  "threshold, probes, max_tiers, probe_cost_weight and merge")

    _learned: TierModels | None = PrivateAttr(default=None)
    """The fitted models a ``learned`` dial resolved to (set by :func:`resolve_dial`, never from a request)."""
    _origin: Literal["request", "experts.yaml"] = PrivateAttr(default="request")
    """Who asked for the cascade: the request body, or experts.yaml's ``escalation.default``."""

    @model_validator(mode="after")
    def _dial_decides_the_plan(self) -> EscalationOptions:
        both = sorted(set(PLAN_FIELDS) & self.model_fields_set)
        if self.dial is not None and both:
            raise ValueError(f"dial {self.dial!r} sets {', '.join(PLAN_FIELDS)} from the router's tuned setting: "
                             f"drop {', '.join(both)} or drop dial")
        if self.signal == "learned" and self.dial is None:
            raise ValueError("signal 'learned' needs dial 'match' or 'beat': its model is fitted by `orchestrator train` "
                             "together with the plan and threshold")
        return self

    @property
    def learned(self) -> TierModels | None:
        return self._learned

    @property
    def origin(self) -> str:
        return self._origin


def resolve_dial(opts: EscalationOptions, tuned: dict[str, dict[str, dict[str, Any]]] | None) -> EscalationOptions:
    """``opts`` with its ``dial`` replaced by the tuned setting it names (unchanged without a dial)."""
    if opts.dial is None:
        return opts
    if not tuned:
        raise InvalidRequest("this router carries no tuned escalation settings (its artifact predates them, or it was not "
                             "fitted by `orchestrator train`): set threshold and the plan yourself, or retrain", param=_PARAM)
    setting = tuned.get(opts.signal, {}).get(opts.dial)
    if setting is None:
        raise InvalidRequest(f"no tuned {opts.dial!r} setting for signal {opts.signal!r} "
                             f"(tuned signals: {', '.join(sorted(tuned)) or 'none'})", param=_PARAM)
    resolved = opts.model_copy(update={k: setting[k] for k in PLAN_FIELDS})
    if opts.signal == "learned":
        model = setting.get("model")
        if not isinstance(model, TierModels) or model.features != FEATURES:
            found = getattr(model, "features", None) if model is not None else "no model"
            raise InvalidRequest(f"the router's learned escalation model cannot be used (fitted on {found}; this version computes "
                                 f"{', '.join(FEATURES)}): retrain", param=_PARAM)
        resolved._learned = model
    return resolved
