"""Batch-by-expert scheduling: per-expert queues, micro-batches and GPU-memory residency."""

from orchestrator.scheduling.fifo import FifoDispatcher
from orchestrator.scheduling.offline import run_offline_batch
from orchestrator.scheduling.policy import QueueView, SwapPlan, SwapPolicy, plan_swap
from orchestrator.scheduling.residency import ResidencyManager, api_root
from orchestrator.scheduling.scheduler import Scheduler

__all__ = [
    "FifoDispatcher",
    "QueueView",
    "ResidencyManager",
    "Scheduler",
    "SwapPlan",
    "SwapPolicy",
    "api_root",
    "plan_swap",
    "run_offline_batch",
]
