"""Escalation inside the gateway: the cascade run over live expert calls.

Tiers come from the router's decision (predicted P(correct) and expected cost per expert) via
the same :func:`~orchestrator.escalation.cascade.plan_tiers` the offline replay uses. After each
tier the answers are merged by :func:`~orchestrator.escalation.cascade.tally` and the request's
signal decides: accept, or escalate. An expert that fails moves the cascade to the next tier
(flagged ``failed``); a next tier whose expected cost would break the request's ``budget`` is
not called (flagged ``budget``): the answer so far is returned. A ``logprob`` signal on an
expert that returned no log-probabilities falls back to the router's probability (flagged). A
``learned`` signal (through a dial) scores each tier with the model ``orchestrator train`` fitted
for it, on the feature row the offline replay computes (:func:`~orchestrator.escalation.signals.tally_features`).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orchestrator.aggregation.extraction import extract_answer
from orchestrator.errors import ExpertError, ExpertUnavailable
from orchestrator.escalation.cascade import CascadePlan, plan_tiers, tally
from orchestrator.escalation.options import EscalationOptions
from orchestrator.escalation.signals import tally_features
from orchestrator.experts.types import mean_token_logprob
from orchestrator.router.selection import CostScale
from orchestrator.trace import TraceEvent, expert_event, failed_expert_event

__all__ = ["CascadeOutcome", "escalate", "escalation_headers", "mean_logprob"]

HEADER = "x-orchestrator-escalation"


def mean_logprob(completion: Any) -> float | None:
    """Mean token log-probability of a completion's ``logprobs`` (any shape
    :func:`~orchestrator.experts.types.mean_token_logprob` reads); None when absent."""
    return mean_token_logprob(getattr(completion, "logprobs", None))


@dataclass
class CascadeOutcome:
    completions: list[Any]  # answered, the accepted answer's expert first
    failures: list[tuple[str, str, str]]  # (expert, error, error type)
    events: list[TraceEvent] = field(default_factory=list)
    tiers_used: int = 0
    confidence: float | None = None
    stopped: str = "accepted"  # accepted | last_tier | budget | failed

    @property
    def escalations(self) -> int:
        return max(0, self.tiers_used - 1)


def _length(completion: Any, unit: str | None) -> float | None:
    """An answer's length in the unit the learned model was trained on (the data's)."""
    if unit == "chars":
        return float(len(completion.text or ""))
    tokens = getattr(completion, "completion_tokens", None)
    return float(tokens) if unit == "tokens" and tokens else None


def _learned_confidence(opts: EscalationOptions, t, completions_by_idx: dict[int, Any], quality: np.ndarray,
                        called: list[int], tier: int) -> float:
    model = opts.learned
    if model is None:
        raise ValueError("signal 'learned' runs with the model its dial resolved to (resolve_dial), and this one has none")
    lengths = {j: _length(c, model.length_unit) for j, c in completions_by_idx.items()} if model.length_unit else None
    logprob = mean_logprob(completions_by_idx[t.winner]) if model.logprobs else None
    return model.confidence(tier, tally_features(t, called, quality, lengths=lengths, logprob=logprob))


def _confidence(opts: EscalationOptions, t, completions_by_idx: dict[int, Any], quality: np.ndarray,
                called: list[int], tier: int) -> tuple[float, str | None]:
    if opts.signal == "learned":
        return _learned_confidence(opts, t, completions_by_idx, quality, called, tier), None
    if opts.signal == "agreement":
        return t.agree, None
    if opts.signal == "posterior":
        return t.posterior, None
    if opts.signal == "logprob":
        lp = mean_logprob(completions_by_idx[t.winner])
        if lp is not None:
            return float(math.exp(min(lp, 0.0))), None
        return float(quality[t.winner]), "the expert returned no log-probabilities: used the router's probability"
    return float(quality[t.winner]), None


async def escalate(decision: Any, messages: list[dict], params: dict, call: Any, opts: EscalationOptions,
                   budget: float | None = None) -> CascadeOutcome:
    """Run the cascade for one request. ``call(expert, messages, params) -> Completion``."""
    ranked = [e for e in decision.experts if math.isfinite(e.score)]
    names = [e.name for e in ranked]
    quality = np.array([e.predicted_quality for e in ranked], dtype=float)
    est = np.array([e.est_cost or 0.0 for e in ranked], dtype=float)
    plan = CascadePlan(probes=opts.probes, probe_cost_weight=opts.probe_cost_weight, max_tiers=opts.max_tiers, merge=opts.merge)
    tiers = plan_tiers(quality, CostScale.fit(est)(est), plan)  # the router's log cost scale, over these experts
    out = CascadeOutcome(completions=[], failures=[])
    if opts.signal == "logprob" or (opts.learned is not None and opts.learned.logprobs):
        params = {**params, "logprobs": True}  # vLLM returns token log-probabilities only when asked
    answered: dict[int, Any] = {}
    called: list[int] = []
    answers: list[str | None] = [None] * len(names)
    spent = 0.0
    for level, tier in enumerate(tiers, start=1):
        if answered and budget is not None and spent + float(est[tier].sum()) > budget:
            out.stopped = "budget"
            out.events.append(TraceEvent("escalation", {"tier": level, "stopped": "budget", "budget": budget,
                                                        "spent_usd": spent, "next_tier_est_usd": float(est[tier].sum())}))
            break
        called += tier
        started, t0 = time.time(), time.perf_counter()
        results = await asyncio.gather(*(call(names[j], messages, params) for j in tier), return_exceptions=True)
        failed = []
        for j, r in zip(tier, results, strict=True):
            if isinstance(r, ExpertError | TimeoutError):
                out.failures.append((names[j], str(r), type(r).__name__))
                failed.append(names[j])
                event = failed_expert_event(names[j], r, started, time.perf_counter() - t0)
                event.decision["tier"] = level
                out.events.append(event)
            elif isinstance(r, BaseException):
                raise r
            else:
                answered[j] = r
                answers[j] = extract_answer(r.text)
                spent += float(r.cost_usd)
                event = expert_event(r, time.time() - r.latency_s, r.latency_s)
                event.decision["tier"] = level
                out.events.append(event)
        out.tiers_used = level
        decision_row: dict[str, Any] = {"tier": level, "experts": [names[j] for j in tier], "signal": opts.signal, "threshold": opts.threshold}
        if failed:
            decision_row["failed"] = failed
        if not answered:
            out.stopped = "failed"
            out.events.append(TraceEvent("escalation", {**decision_row, "accepted": False, "stopped": "failed"}))
            continue
        t = tally(list(answered), answers, quality, opts.merge)
        conf, note = _confidence(opts, t, answered, quality, called, level - 1)
        out.confidence = conf
        accept = conf >= opts.threshold and not failed
        decision_row.update(answer=t.answer, answered_by=names[t.winner], confidence=round(conf, 4), accepted=accept)
        if note:
            decision_row["note"] = note
        if failed:
            decision_row["escalated_because"] = "an expert of this tier failed"
        out.events.append(TraceEvent("escalation", decision_row))
        if accept:
            out.stopped = "accepted"
            break
        out.stopped = "last_tier" if level == len(tiers) else "escalated"
    if not answered:
        tried = ", ".join(f[0] for f in out.failures) or "none"
        raise ExpertUnavailable(tried, "every expert of the cascade failed: " + "; ".join(f[1] for f in out.failures))
    winner = tally(list(answered), answers, quality, opts.merge).winner
    out.completions = [answered[winner], *[c for j, c in answered.items() if j != winner]]
    return out


def escalation_headers(trace: Any) -> dict[str, str]:
    """``x-orchestrator-escalation: tiers=2; stopped=accepted; confidence=0.83`` when the request escalated-or-not."""
    events = [e for e in getattr(trace, "events", []) if e.step == "escalation_summary"]
    if not events:
        return {}
    d = events[-1].decision
    conf = "" if d.get("confidence") is None else f"; confidence={d['confidence']:.3f}"
    origin = "" if d.get("origin", "request") == "request" else f"; origin={d['origin']}"  # a client that asked for none learns why
    return {HEADER: f"tiers={d['tiers_used']}; stopped={d['stopped']}; signal={d['signal']}{conf}{origin}"}


def summary_event(outcome: CascadeOutcome, opts: EscalationOptions) -> TraceEvent:
    summary = {
        "tiers_used": outcome.tiers_used, "escalations": outcome.escalations, "stopped": outcome.stopped,
        "signal": opts.signal, "threshold": opts.threshold, "confidence": outcome.confidence, "origin": opts.origin,
        "failed": [f[0] for f in outcome.failures], "degraded": bool(outcome.failures) or outcome.stopped == "budget",
    }
    if opts.dial is not None:  # the plan came from the artifact's tuned setting: say which
        summary["dial"] = opts.dial
        summary["plan"] = {"probes": opts.probes, "probe_cost_weight": opts.probe_cost_weight, "max_tiers": opts.max_tiers, "merge": opts.merge}
    return TraceEvent("escalation_summary", summary)
