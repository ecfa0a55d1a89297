"""The routing-dataset format: one query per JSONL line with every expert's recorded outcome.

``{"id", "prompt", "task"?, "category"?, "split"?, "experts": {name: {"score", "cost_usd"?,
"output_tokens"?, "output_chars"?, "answer"?}}}`` — the format of ``../shared/data/routing``.

Rows are read as a stream (:func:`iter_records`) and validated one by one, so a malformed
file reports ``file:line: field: message`` for every bad row instead of a traceback. For
routing and evaluation the rows are packed into a :class:`RoutingDataset`: prompts plus
``(n_rows, n_experts)`` matrices of scores and costs, which every policy can score in one
vectorised step.
"""

from orchestrator.data.convert import CategoryFile, from_prompt_category, from_routerbench_csv, load_category_file, write_jsonl
from orchestrator.data.dataset import RoutingDataset, load_dataset
from orchestrator.data.records import ExpertOutcome, RoutingRecord, iter_records
from orchestrator.data.summary import CategorySummary, DatasetSummary, SplitSummary, oracle_choice, summarize

__all__ = [
    "CategoryFile",
    "CategorySummary",
    "DatasetSummary",
    "ExpertOutcome",
    "RoutingDataset",
    "RoutingRecord",
    "SplitSummary",
    "from_prompt_category",
    "from_routerbench_csv",
    "iter_records",
    "load_category_file",
    "load_dataset",
    "oracle_choice",
    "summarize",
    "write_jsonl",
]
