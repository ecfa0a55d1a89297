"""The routing-dataset format: one query per JSONL line with every expert's recorded outcome.

``{"id", "prompt", "task"?, "category"?, "split"?, "experts": {name: {"score", "cost_usd"?,
"output_tokens"?, "output_chars"?, "answer"?}}}`` — the format of ``../shared/data/routing``.

Rows are read as a stream (:func:`iter_records`) and validated one by one, so a malformed
file reports ``file:line: field: message`` for every bad row instead of a traceback. For
routing and evaluation the rows are packed into a :class:`RoutingDataset`: prompts plus
``(n_rows, n_experts)`` matrices of scores and costs, which every policy can score in one
vectorised step.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.errors import DatasetError, Problem

__all__ = [
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
    "summarize",
    "write_jsonl",
]

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


@dataclass
class RoutingDataset:
    """Rows of a routing file packed for vectorised routing and evaluation.

    ``scores[i, j]`` is expert ``experts[j]``'s score on row ``i`` (NaN where not recorded);
    ``costs`` is USD per call, ``output_tokens`` and ``output_chars`` are what the expert wrote
    (all NaN where unknown). ``answers[i]`` maps expert name to its extracted answer.
    """

    source: str
    ids: list[str]
    prompts: list[str]
    tasks: list[str | None]
    categories: list[str | None]
    splits: list[str | None]
    lines: list[int]
    experts: list[str]
    scores: np.ndarray
    costs: np.ndarray
    output_tokens: np.ndarray
    output_chars: np.ndarray
    answers: list[dict[str, str]] = field(repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def has_answers(self) -> bool:
        return any(self.answers)

    def expert_index(self, name: str) -> int:
        return self.experts.index(name)

    def subset(self, rows: np.ndarray | list[int] | slice) -> RoutingDataset:
        idx = np.arange(len(self))[rows] if not isinstance(rows, np.ndarray) or rows.dtype == bool else rows
        idx = np.asarray(idx, dtype=int)
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        return RoutingDataset(
            source=self.source,
            ids=pick(self.ids),
            prompts=pick(self.prompts),
            tasks=pick(self.tasks),
            categories=pick(self.categories),
            splits=pick(self.splits),
            lines=pick(self.lines),
            experts=list(self.experts),
            scores=self.scores[idx],
            costs=self.costs[idx],
            output_tokens=self.output_tokens[idx],
            output_chars=self.output_chars[idx],
            answers=pick(self.answers),
        )

    def split(self, name: str) -> RoutingDataset:
        return self.subset(np.array([s == name for s in self.splits], dtype=bool))

    def select_experts(self, names: list[str]) -> RoutingDataset:
        cols = [self.experts.index(n) for n in names]
        return RoutingDataset(
            source=self.source,
            ids=self.ids,
            prompts=self.prompts,
            tasks=self.tasks,
            categories=self.categories,
            splits=self.splits,
            lines=self.lines,
            experts=list(names),
            scores=self.scores[:, cols],
            costs=self.costs[:, cols],
            output_tokens=self.output_tokens[:, cols],
            output_chars=self.output_chars[:, cols],
            answers=[{k: v for k, v in a.items() if k in names} for a in self.answers],
        )

    def cost_matrix(self) -> tuple[np.ndarray | None, CostUnit | None]:
        """The best cost signal recorded: USD, else output tokens, else output characters."""
        for matrix, unit in ((self.costs, "usd"), (self.output_tokens, "output_tokens"), (self.output_chars, "output_chars")):
            if len(self) and not np.isnan(matrix).all():
                return np.nan_to_num(matrix, nan=float(np.nanmean(matrix))), unit  # type: ignore[return-value]
        return None, None

    def missing(self) -> list[Problem]:
        """One problem per row that lacks a score for some expert of the dataset."""
        out = []
        for i in np.flatnonzero(np.isnan(self.scores).any(axis=1)):
            absent = [self.experts[j] for j in np.flatnonzero(np.isnan(self.scores[i]))]
            out.append(
                Problem(path="experts", message=f"no score for {', '.join(absent)}", source=self.source, line=self.lines[i])
            )
        return out


def load_dataset(
    path: str | Path,
    *,
    split: str | None = None,
    experts: list[str] | None = None,
    require_complete: bool = False,
) -> RoutingDataset:
    """Load a routing file (optionally one split) into a :class:`RoutingDataset`.

    ``experts`` fixes the column order (and rejects rows naming experts outside it);
    ``require_complete`` rejects rows missing a score for any expert, with line numbers.
    """
    rows: list[tuple[int, RoutingRecord]] = list(iter_records(path, split=split))
    names = list(experts) if experts is not None else sorted({e for _, r in rows for e in r.experts})
    col = {n: j for j, n in enumerate(names)}
    n, m = len(rows), len(names)
    scores = np.full((n, m), np.nan)
    costs = np.full((n, m), np.nan)
    out_tokens = np.full((n, m), np.nan)
    out_chars = np.full((n, m), np.nan)
    answers: list[dict[str, str]] = []
    problems: list[Problem] = []
    for i, (lineno, r) in enumerate(rows):
        ans: dict[str, str] = {}
        for name, o in r.experts.items():
            j = col.get(name)
            if j is None:
                problems.append(Problem(path=f"experts.{name}", message="expert not in the expected set", source=str(path), line=lineno))
                continue
            scores[i, j] = o.score
            if o.cost_usd is not None:
                costs[i, j] = o.cost_usd
            if o.output_tokens is not None:
                out_tokens[i, j] = o.output_tokens
            if o.output_chars is not None:
                out_chars[i, j] = o.output_chars
            if o.answer is not None:
                ans[name] = o.answer
        answers.append(ans)
    ds = RoutingDataset(
        source=str(path),
        ids=[r.id for _, r in rows],
        prompts=[r.prompt for _, r in rows],
        tasks=[r.task for _, r in rows],
        categories=[r.category for _, r in rows],
        splits=[r.split for _, r in rows],
        lines=[ln for ln, _ in rows],
        experts=names,
        scores=scores,
        costs=costs,
        output_tokens=out_tokens,
        output_chars=out_chars,
        answers=answers,
    )
    if require_complete:
        problems.extend(ds.missing())
    if problems:
        raise DatasetError(problems[:MAX_REPORTED_PROBLEMS])
    return ds


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class CategorySummary:
    name: str
    rows: int
    best_expert: str
    best_accuracy: float
    oracle_accuracy: float


@dataclass(frozen=True)
class SplitSummary:
    name: str
    rows: int
    best_single: str
    best_single_accuracy: float
    best_single_mean_cost: float | None
    oracle_accuracy: float
    oracle_mean_cost: float | None
    expert_accuracy: dict[str, float]
    categories: list[CategorySummary]


@dataclass(frozen=True)
class DatasetSummary:
    source: str
    rows: int
    experts: list[str]
    tasks: dict[str, int]
    splits: dict[str, int]
    cost_unit: str | None
    missing_scores: int
    with_answers: bool
    views: list[SplitSummary]
    best_single_chosen_on: str


def oracle_choice(scores: np.ndarray, costs: np.ndarray | None) -> np.ndarray:
    """Per row, the cheapest expert among those with the highest score (cheapest overall if all fail)."""
    s = np.nan_to_num(scores, nan=-1.0)
    best = s.max(axis=1, keepdims=True)
    if costs is None:
        return np.argmax(s >= best, axis=1)
    masked = np.where(s >= best, costs, np.inf)
    return np.argmin(masked, axis=1)


def _view(ds: RoutingDataset, name: str, best_on: RoutingDataset) -> SplitSummary:
    costs, _ = ds.cost_matrix()
    acc = np.nan_to_num(ds.scores, nan=0.0).mean(axis=0) if len(ds) else np.zeros(len(ds.experts))
    ref = np.nan_to_num(best_on.scores, nan=0.0).mean(axis=0) if len(best_on) else acc
    ref_costs, _ = best_on.cost_matrix()
    # Ties in accuracy go to the cheaper expert, as a user would choose.
    order = np.lexsort(((ref_costs.mean(axis=0) if ref_costs is not None else np.zeros(len(ref))), -ref))
    b = int(order[0]) if len(ref) else 0
    rows = np.arange(len(ds))
    pick = oracle_choice(ds.scores, costs) if len(ds) else np.zeros(0, dtype=int)
    oracle_acc = float(np.nan_to_num(ds.scores, nan=0.0)[rows, pick].mean()) if len(ds) else 0.0
    cats: list[CategorySummary] = []
    by_cat: dict[str, list[int]] = {}
    for i, c in enumerate(ds.categories):
        by_cat.setdefault(c or "(none)", []).append(i)
    for c, idx in sorted(by_cat.items()):
        sub = np.nan_to_num(ds.scores[idx], nan=0.0)
        m = sub.mean(axis=0)
        cats.append(CategorySummary(c, len(idx), ds.experts[int(m.argmax())], float(m.max()), float(sub.max(axis=1).mean())))
    return SplitSummary(
        name=name,
        rows=len(ds),
        best_single=ds.experts[b],
        best_single_accuracy=float(acc[b]) if len(ds) else 0.0,
        best_single_mean_cost=float(costs[:, b].mean()) if costs is not None and len(ds) else None,
        oracle_accuracy=oracle_acc,
        oracle_mean_cost=float(costs[rows, pick].mean()) if costs is not None and len(ds) else None,
        expert_accuracy={e: float(a) for e, a in zip(ds.experts, acc, strict=True)},
        categories=cats,
    )


def summarize(ds: RoutingDataset) -> DatasetSummary:
    """Rows, experts, tasks and, per split, best single expert and oracle.

    The best single expert is chosen on the ``train`` split when there is one (as a router
    would be), and reported on every view; the oracle picks the cheapest correct expert.
    """
    splits = Counter(s or "(none)" for s in ds.splits)
    train = ds.split("train") if "train" in splits else ds
    views = [_view(ds, "all", train)]
    for s in sorted(splits):
        if s != "(none)" and len(splits) > 1 or s in ("train", "test"):
            views.append(_view(ds.split(s), s, train))
    _, unit = ds.cost_matrix()
    return DatasetSummary(
        source=ds.source,
        rows=len(ds),
        experts=list(ds.experts),
        tasks=dict(Counter(t or "(none)" for t in ds.tasks).most_common()),
        splits=dict(splits),
        cost_unit=unit,
        missing_scores=int(np.isnan(ds.scores).sum()),
        with_answers=ds.has_answers,
        views=views,
        best_single_chosen_on="train" if "train" in splits else "all",
    )


# --------------------------------------------------------------------------- converters


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
