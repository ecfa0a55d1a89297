"""Validation questions with gold answers, for profiling experts by running them.

A question file is JSONL, one ``{id, prompt, gold, category?, task?, split?, kind?}`` per line
(``gold``: a string or a list of acceptable strings). ``load_questions`` reads one, or builds the
set from a named source:

- ``demo``: the project's demo dataset (``orchestrator/demo/demo_routing.jsonl``), every row
  whose ``gold`` is set (math, code-output, reasoning: numbers; medical and knowledge: letters;
  writing has no gold and is skipped). Its golds were written with the prompts.
- ``mmlu_pro``, ``zeroeval``, ``routerbench`` (files under ``../shared/data/routing``): the gold
  is **derived** as the recorded answer of an expert that scored 1.0 on the row (the source
  graded it right, so its extracted answer is the gold); rows no expert got right, or whose
  answers are not letters/numbers (MBPP code, CRUXEval outputs), are skipped.
- ``adaptive_rag`` (``../shared/data/retrieval``): the dataset's own ``gold`` answer list,
  graded by normalised exact match.

``limit_per_category`` keeps the first N of each category (file order, which is fixed), so a
small validation set still covers every category.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.errors import DatasetError, Problem
from orchestrator.profiling.grading import Kind, infer_kind

__all__ = ["SOURCES", "Question", "load_questions", "shared_data_dir"]

DEMO = Path(__file__).resolve().parents[1] / "demo" / "demo_routing.jsonl"
SOURCES = ("demo", "mmlu_pro", "zeroeval", "routerbench", "adaptive_rag")
_SHARED_FILES = {
    "mmlu_pro": "routing/mmlu_pro.jsonl",
    "zeroeval": "routing/zeroeval_reasoning.jsonl",
    "routerbench": "routing/routerbench3.jsonl",
    "adaptive_rag": "retrieval/adaptive_rag_llama8b.jsonl",
}


@dataclass(frozen=True)
class Question:
    id: str
    prompt: str
    gold: list[str]
    kind: Kind
    category: str | None = None
    task: str | None = None
    split: str | None = None
    extra: dict = field(default_factory=dict, compare=False)


def shared_data_dir() -> Path:
    import os

    return Path(os.environ.get("ORCHESTRATOR_SHARED_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data")


def _rows(path: Path) -> Iterator[tuple[int, dict]]:
    try:
        with path.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    try:
                        yield lineno, json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DatasetError(Problem(path="", message=f"not JSON: {exc.msg}", source=str(path), line=lineno)) from exc
    except FileNotFoundError as exc:
        raise DatasetError(Problem(path="", message="file not found", source=str(path))) from exc


def _question(row: dict, gold: list[str], kind: Kind | None = None) -> Question:
    return Question(id=str(row["id"]), prompt=str(row.get("prompt") or row.get("question")), gold=gold, kind=kind or infer_kind(gold[0]),
                    category=row.get("category"), task=row.get("task"), split=row.get("split"))  # fmt: skip


def _from_file(path: Path) -> Iterator[Question]:
    problems = []
    for lineno, row in _rows(path):
        gold = row.get("gold")
        golds = [gold] if isinstance(gold, str) else gold
        if not isinstance(row, dict) or "id" not in row or not row.get("prompt"):
            problems.append(Problem(path="", message="needs 'id' and 'prompt'", source=str(path), line=lineno))
        elif not golds or not all(isinstance(g, str) and g.strip() for g in golds):
            problems.append(Problem(path="gold", message="needs a non-empty string or list of strings", source=str(path), line=lineno))
        elif row.get("kind") not in (None, "letter", "number", "exact"):
            problems.append(Problem(path="kind", message="must be letter, number or exact", source=str(path), line=lineno))
        else:
            yield _question(row, list(golds), row.get("kind"))
    if problems:
        raise DatasetError(problems[:50])


def _from_demo(path: Path = DEMO) -> Iterator[Question]:
    for _, row in _rows(path):
        if row.get("gold"):
            yield _question(row, [str(row["gold"])])


def _derived_gold(row: dict) -> str | None:
    """The answer of an expert the source graded correct, when it is a letter or a number."""
    for outcome in (row.get("experts") or {}).values():
        answer = outcome.get("answer")
        if outcome.get("score") == 1.0 and isinstance(answer, str) and answer.strip():
            return answer.strip() if infer_kind(answer) in ("letter", "number") else None
    return None


def _from_routing(path: Path) -> Iterator[Question]:
    for _, row in _rows(path):
        gold = _derived_gold(row)
        if gold is not None:
            q = _question(row, [gold])
            if q.kind == "letter":  # the stored prompt lists the options; ask for the letter as the demo does
                q = Question(q.id, f"{q.prompt}\nAnswer with the letter.", q.gold, q.kind, q.category, q.task, q.split)
            yield q


def _from_adaptive_rag(path: Path) -> Iterator[Question]:
    for _, row in _rows(path):
        golds = [g for g in row.get("gold") or [] if isinstance(g, str) and g.strip()]
        if golds:
            yield Question(str(row["id"]), f"{row['question']}\nAnswer in a few words.", golds, "exact",
                           row.get("dataset"), "open-qa", row.get("split"))  # fmt: skip


def _limit(questions: Iterable[Question], per_category: int | None, split: str | None) -> list[Question]:
    counts: dict[str | None, int] = defaultdict(int)
    out = []
    for q in questions:
        if split is not None and q.split != split:
            continue
        if per_category is not None and counts[q.category] >= per_category:
            continue
        counts[q.category] += 1
        out.append(q)
    return out


def load_questions(source: str, *, limit_per_category: int | None = None, split: str | None = None) -> list[Question]:
    """Questions from a named source (see the module doc) or a JSONL file path."""
    if source == "demo":
        found: Iterable[Question] = _from_demo()
    elif source in _SHARED_FILES:
        path = shared_data_dir() / _SHARED_FILES[source]
        if not path.exists():
            raise DatasetError(Problem(path="", message=f"the shared data file for {source!r} is absent (set ORCHESTRATOR_SHARED_DATA)", source=str(path)))
        found = _from_adaptive_rag(path) if source == "adaptive_rag" else _from_routing(path)
    else:
        found = _from_file(Path(source))
    questions = _limit(found, limit_per_category, split)
    if not questions:
        raise DatasetError(Problem(path="", message="no question with a gold answer", source=source))
    return questions
