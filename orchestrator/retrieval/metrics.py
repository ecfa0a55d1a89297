"""Prometheus metrics of retrieval, fed from each request's ``retrieval`` trace event."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from orchestrator.trace import TraceEvent

__all__ = ["RetrievalMetrics"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RetrievalMetrics:
    """Gate decisions (retrieval rate = retrieved / all), retrieval latency, passages per request."""

    def __init__(self, registry: CollectorRegistry):
        self.decisions = Counter(
            "orchestrator_retrieval_decisions", "Retrieval gate decisions by mode, strategy and whether passages were used",
            ["mode", "strategy", "retrieved"], registry=registry,
        )
        self.errors = Counter("orchestrator_retrieval_errors", "Requests answered without retrieval because it failed", registry=registry)
        self.latency = Histogram("orchestrator_retrieval_seconds", "Retrieval step latency (gate, drafts, search)", buckets=_BUCKETS, registry=registry)
        self.passages = Histogram("orchestrator_retrieval_passages", "Passages inserted per request", buckets=(0, 1, 2, 3, 5, 8, 10, 15, 20, 30), registry=registry)

    def observe(self, event: TraceEvent) -> None:
        d = event.decision
        if "mode" not in d and not d.get("degraded"):
            return  # retrieval disabled: nothing to count
        self.decisions.labels(mode=d.get("mode", "unknown"), strategy=d.get("strategy", "none"), retrieved=str(bool(d.get("retrieved"))).lower()).inc()
        if d.get("degraded"):
            self.errors.inc()
        self.latency.observe(event.duration_s)
        self.passages.observe(len(d.get("sources", [])))
