"""Other layouts into the routing format: RouterBench's wide CSV, plain ``{prompt, category}``
files, and ``categories.jsonl``-style category files for the classifier."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.data.records import ExpertOutcome, RoutingRecord
from orchestrator.errors import DatasetError, Problem

__all__ = ["CategoryFile", "from_prompt_category", "from_routerbench_csv", "load_category_file", "write_jsonl"]


def write_jsonl(records: Iterable[RoutingRecord], path: str | Path) -> int:
    n = 0
    with Path(path).open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(r.model_dump_json(exclude_none=True) + "\n")
            n += 1
    return n


def _float(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def from_routerbench_csv(path: str | Path) -> Iterator[RoutingRecord]:
    """RouterBench's wide layout: ``sample_id, prompt, eval_name, <model>, <model>|total_cost,
    <model>|model_response`` (one score column per model)."""
    p = Path(path)
    with p.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for needed in ("prompt",):
            if needed not in header:
                raise DatasetError(Problem(path=needed, message="column missing from the CSV header", source=str(p), line=1))
        reserved = {"sample_id", "prompt", "eval_name", "oracle_model_to_route_to", "category", "split", "id", "task"}
        models = [c for c in header if "|" not in c and c not in reserved and c]
        for lineno, row in enumerate(reader, start=2):
            experts: dict[str, ExpertOutcome] = {}
            for mname in models:
                score = _float(row.get(mname, ""))
                if score is None:
                    continue
                if not 0.0 <= score <= 1.0:
                    raise DatasetError(Problem(path=mname, message=f"score {score} outside [0, 1]", source=str(p), line=lineno))
                experts[mname] = ExpertOutcome(
                    score=score,
                    cost_usd=_float(row.get(f"{mname}|total_cost", "")),
                    answer=(row.get(f"{mname}|model_response") or None),
                )
            yield RoutingRecord(
                id=row.get("sample_id") or row.get("id") or f"row-{lineno}",
                prompt=row["prompt"],
                task=row.get("eval_name") or row.get("task") or None,
                category=row.get("category") or None,
                split=row.get("split") or None,
                experts=experts,
            )


def _rows_of(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            yield from enumerate(csv.DictReader(fh), start=2)
        return
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(Problem(path="", message="not valid JSON", source=str(path), line=lineno)) from exc


def from_prompt_category(path: str | Path) -> Iterator[RoutingRecord]:
    """A plain ``{prompt|text, category}`` file (JSONL or CSV) into records with no expert outcomes,
    for training the category classifier."""
    p = Path(path)
    for lineno, row in _rows_of(p):
        text = row.get("prompt") or row.get("text")
        cat = row.get("category")
        if not text or not cat:
            raise DatasetError(Problem(path="prompt" if not text else "category", message="missing or empty", source=str(p), line=lineno))
        yield RoutingRecord(
            id=str(row.get("id") or f"{p.stem}-{lineno}"),
            prompt=text,
            task=row.get("task") or row.get("source"),
            category=cat,
            split=row.get("split") or None,
        )


@dataclass
class CategoryFile:
    texts: list[str]
    categories: list[str]
    labels: list[str | None]
    splits: list[str | None]

    def split(self, name: str) -> CategoryFile:
        idx = [i for i, s in enumerate(self.splits) if s == name]
        return CategoryFile(
            [self.texts[i] for i in idx], [self.categories[i] for i in idx], [self.labels[i] for i in idx], [self.splits[i] for i in idx]
        )


def load_category_file(path: str | Path) -> CategoryFile:
    """``categories.jsonl`` style files: ``{text|prompt, category, label?, split?}`` per line."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(Problem(path="", message="file not found", source=str(p)))
    texts, cats, labels, splits = [], [], [], []
    for lineno, row in _rows_of(p):
        text = row.get("text") or row.get("prompt")
        cat = row.get("category")
        if not text or not cat:
            raise DatasetError(Problem(path="text" if not text else "category", message="missing or empty", source=str(p), line=lineno))
        texts.append(text)
        cats.append(cat)
        labels.append(row.get("label"))
        splits.append(row.get("split"))
    return CategoryFile(texts, cats, labels, splits)
