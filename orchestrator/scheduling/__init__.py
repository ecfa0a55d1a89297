"""Batch-by-expert scheduling: per-expert queues, micro-batches and GPU-memory residency."""

from orchestrator.scheduling.fifo import FifoDispatcher, KeepAliveDispatcher
from orchestrator.scheduling.offline import run_offline_batch
from orchestrator.scheduling.policy import QueueView, SwapPlan, SwapPolicy, plan_swap
from orchestrator.scheduling.residency import ResidencyManager
from orchestrator.scheduling.scheduler import Grant, Scheduler

__all__ = [
    "FifoDispatcher",
    "Grant",
    "KeepAliveDispatcher",
    "QueueView",
    "ResidencyManager",
    "Scheduler",
    "SwapPlan",
    "SwapPolicy",
    "plan_swap",
    "run_offline_batch",
]
