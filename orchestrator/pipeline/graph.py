"""The one LangGraph graph every request runs through, online (gateway) and offline (batch)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from orchestrator.pipeline import nodes
from orchestrator.pipeline.context import PipelineContext
from orchestrator.pipeline.state import PipelineInput, PipelineState

__all__ = ["build_graph", "compiled_graph"]

STEPS = ("route", "retrieval_gate", "dispatch", "aggregate", "verify", "respond")


def build_graph() -> Any:
    """route -> retrieval_gate -> dispatch -> aggregate -> verify -> respond, compiled."""
    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(PipelineState, context_schema=PipelineContext, input_schema=PipelineInput)
    for step in STEPS:
        graph.add_node(step, getattr(nodes, step))
    graph.add_edge(START, STEPS[0])
    for a, b in zip(STEPS, STEPS[1:]):
        graph.add_edge(a, b)
    graph.add_edge(STEPS[-1], END)
    return graph.compile(name="orchestrator")


@lru_cache(maxsize=1)
def compiled_graph() -> Any:
    """The graph compiled once per process (compiling costs milliseconds; requests must not pay it)."""
    return build_graph()
