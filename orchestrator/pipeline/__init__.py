"""The request pipeline: one LangGraph graph (route, retrieval gate, dispatch, aggregate,
verify; then respond on its final state) run online by the gateway and offline by :func:`run_pipeline`."""

from orchestrator.pipeline.context import CallFn, PipelineContext, StreamFn
from orchestrator.pipeline.options import RequestOptions
from orchestrator.pipeline.runner import AnswerDelta, Pipeline, PipelineResult, run_pipeline
from orchestrator.pipeline.state import ExpertFailure, PipelineInput, PipelineState

__all__ = [
    "AnswerDelta",
    "CallFn",
    "ExpertFailure",
    "Pipeline",
    "PipelineContext",
    "PipelineInput",
    "PipelineResult",
    "PipelineState",
    "RequestOptions",
    "StreamFn",
    "run_pipeline",
]
