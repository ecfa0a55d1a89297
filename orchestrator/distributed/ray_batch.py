"""``orchestrator batch --ray``: shard the (query, expert) assignments with Ray Data, group by
expert within each shard (each shard wakes each of its experts once), one result in input order.

Every shard runs :func:`~orchestrator.scheduling.run_offline_batch`, the code of the local run,
so the answers are the same. Shards share the experts' residency through Redis when
``gateway.redis_url`` is set; without it, shards of a composition with a GPU-memory budget run
one at a time (two shards swapping the same GPU without a shared lock would fight over it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from typing import Any

from orchestrator.config import Config, parse_config
from orchestrator.experts.types import Completion, TraceEvent

__all__ = ["connect", "run_batch_on_ray"]

Assignment = tuple[str, str, list[dict], dict]


def connect(address: str, *, num_cpus: int | None = None) -> Any:
    """``auto`` or ``host:port`` / ``ray://...`` joins a running cluster; ``local`` starts one here."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        return ray
    # Workers import this package from the same paths as the driver.
    env = {"env_vars": {k: v for k in ("PYTHONPATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "LITELLM_LOCAL_MODEL_COST_MAP") if (v := os.environ.get(k))}}
    if address == "local":
        ray.init(num_cpus=num_cpus or min(2, os.cpu_count() or 1), include_dashboard=False, log_to_driver=False, runtime_env=env)
    else:
        ray.init(address=address, log_to_driver=False, runtime_env=env)
    return ray


def _shard(batch: dict[str, Any], config_text: str, config_source: str) -> dict[str, Any]:
    """One shard on a Ray worker: the local offline batch over its rows."""
    from orchestrator.experts import ExpertClient
    from orchestrator.scheduling import run_offline_batch
    from orchestrator.scheduling.coordination import coordinator_for
    from orchestrator.scheduling.residency import ResidencyManager

    config = parse_config(config_text, source=config_source)
    orders = [int(o) for o in batch["order"]]
    assignments = [
        (str(q), str(e), json.loads(m), json.loads(p))
        for q, e, m, p in zip(batch["qid"], batch["expert"], batch["messages"], batch["params"], strict=True)
    ]
    # Unique keys keep duplicate query ids apart; results come back per key in assignment order.
    keyed = [(f"{i}", e, m, p) for i, (_, e, m, p) in zip(orders, assignments, strict=True)]

    async def run() -> dict[str, list[Completion]]:
        residency = None
        if config.scheduler.gpu_memory_budget_gb is not None:
            residency = ResidencyManager(config, coordinator=coordinator_for(config))
            await residency.start()
        try:
            async with ExpertClient(config) as client:
                return await run_offline_batch(config, client, keyed, progress=False, residency=residency)
        finally:
            if residency is not None:
                await residency.aclose()

    results = asyncio.run(run())
    out = [json.dumps(_completion_dict(results[k][0])) for k, *_ in keyed]
    return {"order": orders, "completion": out}


def _completion_dict(c: Completion) -> dict[str, Any]:
    return dataclasses.asdict(c)


def _completion(d: dict[str, Any]) -> Completion:
    return Completion(**{**d, "events": [TraceEvent(**ev) for ev in d["events"]]})


def run_batch_on_ray(
    config: Config, config_text: str, assignments: list[Assignment], *, address: str, shards: int | None = None
) -> dict[str, list[Completion]]:
    """The same result as ``run_offline_batch`` (per query, in assignment order), computed on Ray."""
    ray = connect(address)
    from ray import data as ray_data

    for _, expert, _, _ in assignments:
        config.expert(expert)  # unknown expert -> KeyError before any work is shipped
    rows = [
        {"order": i, "qid": q, "expert": e, "messages": json.dumps(m), "params": json.dumps(p)}
        for i, (q, e, m, p) in enumerate(assignments)
    ]
    n = shards or max(1, min(len(rows) // 50 or 1, int(ray.cluster_resources().get("CPU", 1)) * 2))
    shared = config.gateway.resolved_redis_url() is not None or config.scheduler.gpu_memory_budget_gb is None
    ds = ray_data.from_items(rows, override_num_blocks=n).map_batches(
        _shard,
        batch_size=None,  # one call per block: the block is the shard
        batch_format="numpy",
        fn_kwargs={"config_text": config_text, "config_source": config.source or "<ray>"},
        concurrency=None if shared else 1,
    )
    done: dict[int, Completion] = {}
    for row in ds.iter_rows():
        done[int(row["order"])] = _completion(json.loads(row["completion"]))
    missing = len(assignments) - len(done)
    if missing:
        raise RuntimeError(f"Ray returned {len(done)} of {len(assignments)} answers")
    results: dict[str, list[Completion]] = {}
    for i, (qid, *_rest) in enumerate(assignments):
        results.setdefault(qid, []).append(done[i])
    return results
