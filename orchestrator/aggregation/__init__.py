"""Aggregation: answer extraction, the consensus shortcut, majority vote and synthesis."""

from orchestrator.aggregation.aggregator import MODES, AggregationResult, Aggregator, Candidate, CompleteFn
from orchestrator.aggregation.extraction import extract_answer, final_section, normalize_answer, strip_reasoning
from orchestrator.aggregation.prompts import SYNTHESIS_INSTRUCTION, synthesis_messages

__all__ = [
    "MODES",
    "SYNTHESIS_INSTRUCTION",
    "AggregationResult",
    "Aggregator",
    "Candidate",
    "CompleteFn",
    "extract_answer",
    "final_section",
    "normalize_answer",
    "strip_reasoning",
    "synthesis_messages",
]
