"""``/metrics`` with vLLM's own metric names, labels and buckets (``v1/metrics/loggers.py``).

Each app gets its own ``CollectorRegistry`` so several simulators (or test apps) can live in
one process. Gauges read the engine at scrape time; counters and histograms are fed by the
request handlers. Counters are declared without ``_total`` and prometheus_client exposes
``X_total`` plus ``X_created``, exactly as vLLM's do.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from services.expert_sim.engine import Engine

# vLLM serves /metrics with prometheus_client's ASGI app, hence its content type.
CONTENT_TYPE = CONTENT_TYPE_LATEST
FINISH_REASONS = ("stop", "length", "abort", "error", "repetition")
SLEEP_STATES = ("awake", "weights_offloaded", "discard_all")

TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)  # fmt: skip
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
               40.0, 80.0)  # fmt: skip
LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
                   240.0, 480.0, 960.0, 1920.0, 7680.0)  # fmt: skip


class SimMetrics:
    """The vLLM metrics one simulated engine exposes."""

    def __init__(self, engine: Engine, model_name: str, engine_index: str = "0"):
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["model_name", "engine"]
        values = {"model_name": model_name, "engine": engine_index}
        reg = self.registry

        def gauge(name: str, doc: str, read) -> None:  # noqa: ANN001 - a zero-argument callable
            Gauge(name, doc, labels, registry=reg, multiprocess_mode="mostrecent").labels(**values).set_function(read)

        gauge("vllm:num_requests_running", "Number of requests in model execution batches.", lambda: engine.running)
        gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", lambda: engine.waiting)
        gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", lambda: engine.kv_usage)
        sleep = Gauge(
            "vllm:engine_sleep_state",
            "Engine sleep state; awake = 0 means engine is sleeping; awake = 1 means engine is awake; "
            "weights_offloaded = 1 means sleep level 1; discard_all = 1 means sleep level 2.",
            [*labels, "sleep_state"],
            registry=reg,
            multiprocess_mode="mostrecent",
        )
        for state in SLEEP_STATES:
            sleep.labels(**values, sleep_state=state).set_function(lambda s=state: float(engine.sleep_state == s))

        self.prompt_tokens = Counter(
            "vllm:prompt_tokens", "Number of prefill tokens processed.", labels, registry=reg
        ).labels(**values)
        self.generation_tokens = Counter(
            "vllm:generation_tokens", "Number of generation tokens processed.", labels, registry=reg
        ).labels(**values)
        success = Counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            [*labels, "finished_reason"],
            registry=reg,
        )
        self.request_success = {r: success.labels(**values, finished_reason=r) for r in FINISH_REASONS}
        self.num_preemptions = Counter(
            "vllm:num_preemptions", "Cumulative number of preemption from the engine.", labels, registry=reg
        ).labels(**values)

        def histogram(name: str, doc: str, buckets: tuple[float, ...]):  # noqa: ANN202
            return Histogram(name, doc, labels, buckets=buckets, registry=reg).labels(**values)

        self.ttft = histogram(
            "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT_BUCKETS
        )
        self.itl = histogram(
            "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ITL_BUCKETS
        )
        self.tpot = histogram(
            "vllm:request_time_per_output_token_seconds",
            "Histogram of time_per_output_token_seconds per request.",
            ITL_BUCKETS,
        )
        self.e2e = histogram(
            "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", LATENCY_BUCKETS
        )
        self.queue_time = histogram(
            "vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", LATENCY_BUCKETS
        )

    def record_finished(
        self, *, reason: str, prompt_tokens: int, generated: int, queue_s: float, ttft_s: float, e2e_s: float
    ) -> None:
        self.prompt_tokens.inc(prompt_tokens)
        self.generation_tokens.inc(generated)
        self.request_success[reason].inc()
        self.queue_time.observe(queue_s)
        self.ttft.observe(ttft_s)
        self.e2e.observe(e2e_s)
        if generated > 1:
            per_token = max(0.0, e2e_s - ttft_s) / (generated - 1)
            self.tpot.observe(per_token)

    def render(self) -> bytes:
        return generate_latest(self.registry)
