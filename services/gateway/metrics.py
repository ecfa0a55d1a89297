"""Prometheus metrics on the gateway's own registry (never the global one: tests and several
apps in one process must not collide).

Request-level numbers are observed by the middleware; pipeline numbers (routing latency,
per-expert calls, tokens, cost, fallbacks, aggregation modes) are read off each request's
trace; scheduler numbers (queue wait, swaps) are collected from ``Scheduler.stats()`` at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from orchestrator.retrieval.metrics import RetrievalMetrics
from orchestrator.trace import Trace

__all__ = ["GatewayMetrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("orchestrator_requests", "HTTP requests by route and status", ["route", "status"], registry=r)
        self.latency = Histogram("orchestrator_request_seconds", "HTTP request latency", ["route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.routing = Histogram("orchestrator_routing_seconds", "Router (classify + recruit) latency", buckets=_LATENCY_BUCKETS, registry=r)
        self.completions = Counter("orchestrator_completions", "Chat completions by kind of model", ["kind"], registry=r)
        self.expert_calls = Counter("orchestrator_expert_calls", "Expert calls by outcome", ["expert", "outcome"], registry=r)
        self.tokens = Counter("orchestrator_tokens", "Tokens by expert and direction", ["expert", "direction"], registry=r)
        self.cost = Counter("orchestrator_cost_usd", "Estimated spend by expert (USD)", ["expert"], registry=r)
        self.fallbacks = Counter("orchestrator_fallbacks", "Failed experts replaced by the next-ranked", ["expert"], registry=r)
        self.aggregations = Counter("orchestrator_aggregations", "Aggregation outcomes (consensus = aggregator skipped)", ["mode"], registry=r)
        self.errors = Counter("orchestrator_errors", "Errors by exception type", ["type"], registry=r)
        self.verify_triggers = Counter("orchestrator_verification_triggers", "Verification triggers by reason", ["reason"], registry=r)
        self.verify_runs = Counter("orchestrator_verification_runs", "Verification outcomes", ["mode", "status"], registry=r)
        self.verify_rounds = Counter("orchestrator_verification_rounds", "Debate rounds run", ["mode"], registry=r)
        self.verify_flips = Counter("orchestrator_verification_flips", "Verdicts that changed the pipeline's answer", ["mode"], registry=r)
        self.escalations = Counter("orchestrator_escalations", "Cascade requests by signal and how they stopped", ["signal", "stopped"], registry=r)
        self.escalation_tiers = Counter("orchestrator_escalation_tiers", "Cascade tiers called beyond the first", ["signal"], registry=r)
        self.retrieval = RetrievalMetrics(r)
        self._scheduler = _SchedulerCollector()
        r.register(self._scheduler)

    def bind_scheduler(self, stats: Callable[[], Any] | None) -> None:
        self._scheduler.stats = stats

    def _verification(self, d: dict[str, Any]) -> None:
        for reason in d.get("trigger", {}).get("reasons", []):
            self.verify_triggers.labels(reason=reason).inc()
        mode, status = d.get("mode", "unknown"), d.get("status", "skipped")
        self.verify_runs.labels(mode=mode, status=status).inc()
        if status != "skipped":
            self.verify_rounds.labels(mode=mode).inc(d.get("rounds", 0))
            if d.get("changed"):
                self.verify_flips.labels(mode=mode).inc()

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)

    def observe_trace(self, trace: Trace) -> None:
        for event in trace.events:
            if event.step == "classify":
                self.routing.observe(event.duration_s)
            elif event.step == "expert" and event.expert is not None:
                ok = event.decision.get("ok", True)
                self.expert_calls.labels(expert=event.expert, outcome="ok" if ok else "error").inc()
                self._usage(event.expert, event.prompt_tokens, event.completion_tokens, event.cost_usd)
            elif event.step == "retrieval":
                self.retrieval.observe(event)
            elif event.step == "dispatch":
                for name in event.decision.get("failed", []):
                    self.fallbacks.labels(expert=name).inc()
            elif event.step == "verify":
                self._verification(event.decision)
                if event.cost_usd or event.prompt_tokens:
                    self._usage(event.expert or "verification", event.prompt_tokens, event.completion_tokens, event.cost_usd)
            elif event.step == "escalation_summary":
                self.escalations.labels(signal=event.decision["signal"], stopped=event.decision["stopped"]).inc()
                self.escalation_tiers.labels(signal=event.decision["signal"]).inc(event.decision["escalations"])
            elif event.step == "aggregate":
                self.aggregations.labels(mode=event.decision.get("mode", "unknown")).inc()
                if event.expert is not None and event.decision.get("synthesis_calls"):
                    self.expert_calls.labels(expert=event.expert, outcome="ok").inc(event.decision["synthesis_calls"])
                    self._usage(event.expert, event.prompt_tokens, event.completion_tokens, event.cost_usd)

    def observe_direct(self, expert: str, prompt_tokens: int, completion_tokens: int, cost_usd: float, ok: bool = True) -> None:
        self.expert_calls.labels(expert=expert, outcome="ok" if ok else "error").inc()
        if ok:
            self._usage(expert, prompt_tokens, completion_tokens, cost_usd)

    def _usage(self, expert: str, prompt: int, completion: int, cost: float) -> None:
        self.tokens.labels(expert=expert, direction="prompt").inc(prompt)
        self.tokens.labels(expert=expert, direction="completion").inc(completion)
        self.cost.labels(expert=expert).inc(cost)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _SchedulerCollector(Collector):
    """Exports the scheduler's own counters (queue wait, swaps, queue depth) when one is bound."""

    def __init__(self) -> None:
        self.stats: Callable[[], Any] | None = None

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        if self.stats is None:
            return
        try:
            stats = self.stats()
        except Exception:  # noqa: BLE001 - a scrape must never fail because of one source
            return
        yield from _flatten("orchestrator_scheduler", _as_dict(stats))


def _as_dict(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    return value


def _flatten(prefix: str, stats: Any) -> Iterator[Metric]:
    """Numbers become gauges (``*_total`` counters); a dict keyed by expert becomes one labelled family."""
    if not isinstance(stats, dict):
        return
    for key, value in stats.items():
        name = f"{prefix}_{_clean(key)}"
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            yield _family(name, {(): float(value)})
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            fields: dict[str, dict[tuple, float]] = {}
            for expert, sub in value.items():
                for field_name, v in _as_dict(sub).items():
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        fields.setdefault(field_name, {})[(str(expert),)] = float(v)
            for field_name, samples in fields.items():
                yield _family(f"{name}_{_clean(field_name)}", samples, labels=["expert"])
        elif isinstance(value, dict) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values()):
            yield _family(name, {(str(k),): float(v) for k, v in value.items()}, labels=["key"])


def _family(name: str, samples: dict[tuple, float], labels: list[str] | None = None) -> Metric:
    labels = labels or []
    if name.endswith("_total"):
        fam: Metric = CounterMetricFamily(name[: -len("_total")], name, labels=labels)
    else:
        fam = GaugeMetricFamily(name, name, labels=labels)
    for label_values, v in samples.items():
        fam.add_metric(list(label_values), v)
    return fam


def _clean(key: Any) -> str:
    return "".join(c if c.isalnum() else "_" for c in str(key)).strip("_").lower()
