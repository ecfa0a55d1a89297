"""One routing record per JSONL line, validated as it is read.

``iter_records`` streams a file and collects every malformed row as a line-numbered
:class:`~orchestrator.errors.Problem`, raising one :class:`~orchestrator.errors.DatasetError`
at the end, so a bad file reports all its problems instead of a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.errors import DatasetError, Problem

__all__ = ["MAX_REPORTED_PROBLEMS", "CostUnit", "ExpertOutcome", "RoutingRecord", "iter_records"]

CostUnit = Literal["usd", "output_tokens", "output_chars"]
MAX_REPORTED_PROBLEMS = 50


class ExpertOutcome(BaseModel):
    """What one expert did on one query."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    score: float = Field(ge=0.0, le=1.0)
    cost_usd: float | None = Field(default=None, ge=0.0)
    output_tokens: int | None = Field(default=None, ge=0)
    output_chars: int | None = Field(default=None, ge=0)
    answer: str | None = None


class RoutingRecord(BaseModel):
    """One query and every expert's recorded outcome on it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    task: str | None = None
    category: str | None = None
    split: str | None = None
    experts: dict[str, ExpertOutcome] = Field(default_factory=dict)


def _coerce_id(line: str) -> str:
    # Numeric ids are common in the wild; accept them as strings rather than rejecting the row.
    obj = json.loads(line)
    if isinstance(obj, dict) and isinstance(obj.get("id"), int):
        obj["id"] = str(obj["id"])
        return json.dumps(obj)
    return line


def _problems(exc: ValidationError, source: str, line: int) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        out.append(Problem(path=loc, message=err["msg"], source=source, line=line))
    return out


def iter_records(
    path: str | Path, *, split: str | None = None, strict: bool = True
) -> Iterator[tuple[int, RoutingRecord]]:
    """Yield ``(line_number, record)`` for every row, optionally only one split.

    With ``strict`` (the default) every malformed row is collected and a single
    :class:`DatasetError` listing them (up to 50) is raised at the end of the file.
    Blank lines are skipped.
    """
    p = Path(path)
    if not p.is_file():
        raise DatasetError(Problem(path="", message="file not found", source=str(p)))
    problems: list[Problem] = []
    seen_ids: dict[str, int] = {}
    with p.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            raw = raw.strip()
            if not raw:
                continue
            try:
                record = RoutingRecord.model_validate_json(raw)
            except ValidationError as exc:
                if exc.errors()[0]["type"] == "json_invalid":
                    problems.append(Problem(path="", message="not valid JSON", source=str(p), line=lineno))
                    continue
                try:
                    record = RoutingRecord.model_validate_json(_coerce_id(raw))
                except ValidationError as exc2:
                    problems.extend(_problems(exc2, str(p), lineno))
                    continue
            if record.id in seen_ids:
                problems.append(
                    Problem(path="id", message=f"duplicate id {record.id!r} (first on line {seen_ids[record.id]})", source=str(p), line=lineno)
                )
                continue
            seen_ids[record.id] = lineno
            if split is not None and record.split != split:
                continue
            if not problems:
                yield lineno, record
            if strict and len(problems) >= MAX_REPORTED_PROBLEMS:
                break
    if problems and strict:
        raise DatasetError(problems[:MAX_REPORTED_PROBLEMS])
