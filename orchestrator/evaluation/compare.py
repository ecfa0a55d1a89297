"""``orchestrator eval --compare A.json B.json``: what changed between two evaluation runs."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError
from rich import box
from rich.table import Table

from orchestrator.errors import DatasetError, Problem
from orchestrator.evaluation.render import fmt_cost
from orchestrator.evaluation.report import EvalReport

__all__ = ["COMPARED_FIELDS", "compare_reports", "comparison_table", "load_report"]

COMPARED_FIELDS = ("accuracy", "coverage", "mean_cost", "calls_per_query", "gap_recovered")


def load_report(path: Path) -> EvalReport:
    try:
        return EvalReport.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(Problem(path="", message="file not found", source=str(path))) from None
    except ValidationError as exc:
        problems = [Problem(path=".".join(map(str, e["loc"])), message=e["msg"], source=str(path)) for e in exc.errors()[:10]]
        raise DatasetError(problems) from None


def compare_reports(a: EvalReport, b: EvalReport) -> dict:
    """Per policy in either report: ``{field: {"a", "b", "delta"}}`` (None where a side lacks it)."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for name in list(a.policies) + [n for n in b.policies if n not in a.policies]:
        pa, pb = a.policies.get(name), b.policies.get(name)
        row: dict[str, dict[str, float | None]] = {}
        for f in COMPARED_FIELDS:
            va = getattr(pa, f) if pa is not None else None
            vb = getattr(pb, f) if pb is not None else None
            row[f] = {"a": va, "b": vb, "delta": None if va is None or vb is None else vb - va}
        out[name] = row
    return {
        "a": {"dataset": a.dataset, "split": a.split, "n": a.n, "seed": a.seed},
        "b": {"dataset": b.dataset, "split": b.split, "n": b.n, "seed": b.seed},
        "same_data": a.dataset == b.dataset and a.split == b.split and a.n == b.n,
        "policies": out,
    }


def _delta(value: float | None, text: str, *, lower_is_better: bool = False) -> str:
    if value is None:
        return "-"
    if abs(value) < 1e-12:
        return "="
    colour = "green" if (value > 0) != lower_is_better else "red"
    return f"[{colour}]{text}[/{colour}]"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _signed_cost(value: float | None, unit: str | None) -> str:
    if value is None:
        return "-"
    return ("+" if value > 0 else "-") + fmt_cost(abs(value), unit)


def comparison_table(diff: dict, unit: str | None) -> Table:
    """B - A per policy; green is better (higher accuracy, lower cost and fewer calls)."""
    table = Table(title=f"B - A  (A: {diff['a']['dataset']}, B: {diff['b']['dataset']})", title_justify="left", box=box.SIMPLE_HEAD)
    for c in ("policy", "acc % A", "acc % B", "Δ acc", "Δ cover", "cost A", "cost B", "Δ cost", "Δ calls", "Δ gap rec"):
        table.add_column(c, justify="left" if c == "policy" else "right", no_wrap=True)
    for name, row in diff["policies"].items():
        acc, cost, cover, calls, gap = (row[f] for f in ("accuracy", "mean_cost", "coverage", "calls_per_query", "gap_recovered"))
        table.add_row(
            name,
            _pct(acc["a"]),
            _pct(acc["b"]),
            _delta(acc["delta"], f"{100 * (acc['delta'] or 0):+.1f}"),
            _delta(cover["delta"], f"{100 * (cover['delta'] or 0):+.1f}"),
            fmt_cost(cost["a"], unit),
            fmt_cost(cost["b"], unit),
            _delta(cost["delta"], _signed_cost(cost["delta"], unit), lower_is_better=True),
            _delta(calls["delta"], f"{calls['delta'] or 0:+.2f}", lower_is_better=True),
            _delta(gap["delta"], f"{100 * (gap['delta'] or 0):+.1f}"),
        )
    return table
