"""The one LangGraph graph every request runs through, online (gateway) and offline (batch).

route -> retrieval_gate -> dispatch -> aggregate -> verify, then ``respond`` on the final state
(:func:`~orchestrator.pipeline.nodes.respond`, applied by the runner). The two optional steps
are left out of a request's graph when they cannot run for it: retrieval when no retriever is
configured and the request does not ask for one, verification when its plan is ``off``. The
path is known before the first step, so it is chosen up front among the (cached) compiled
variants instead of by conditional edges: each LangGraph superstep costs ~0.2 ms of CPU and a
branch nearly as much (it materialises the state to decide); the two steps were ~0.5 ms of a
routed request's ~4 ms over pass-through (docs/benchmarks.md, issue 11).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from orchestrator.pipeline import nodes
from orchestrator.pipeline.context import PipelineContext
from orchestrator.pipeline.options import RequestOptions
from orchestrator.pipeline.state import PipelineInput, PipelineState

__all__ = ["STEPS", "build_graph", "compiled_graph", "graph_for"]

STEPS = ("route", "retrieval_gate", "dispatch", "aggregate", "verify")


def build_graph(*, retrieval: bool = True, verify: bool = True) -> Any:
    """The steps in order, without ``retrieval_gate`` / ``verify`` when they are off, compiled."""
    from langgraph.graph import END, START, StateGraph

    steps = [s for s in STEPS if (retrieval or s != "retrieval_gate") and (verify or s != "verify")]
    graph = StateGraph(PipelineState, context_schema=PipelineContext, input_schema=PipelineInput)
    for step in steps:
        graph.add_node(step, getattr(nodes, step))
    graph.add_edge(START, steps[0])
    for a, b in zip(steps, steps[1:]):
        graph.add_edge(a, b)
    graph.add_edge(steps[-1], END)
    return graph.compile(name="orchestrator")


@lru_cache(maxsize=4)
def compiled_graph(*, retrieval: bool = True, verify: bool = True) -> Any:
    """Each variant compiled once per process (compiling costs milliseconds; requests must not pay it)."""
    return build_graph(retrieval=retrieval, verify=verify)


def graph_for(options: RequestOptions, context: PipelineContext) -> Any:
    """The compiled graph for one request: retrieval when a retriever is configured or the
    request asks for it (a request asking while retrieval is disabled gets the gate's note in
    its trace), verification unless its plan for this request is ``off``."""
    retrieval = context.retriever is not None or options.retrieval not in (None, "never")
    verify = options.verify_plan(context.config.verification.enabled)[0] != "off"
    return compiled_graph(retrieval=retrieval, verify=verify)
