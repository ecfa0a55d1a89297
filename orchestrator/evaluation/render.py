"""Human-readable views of an :class:`EvalReport`: rich tables for the terminal and Markdown."""

from __future__ import annotations

import math
from pathlib import Path

from rich import box
from rich.table import Table

from orchestrator.evaluation.report import EvalReport, PolicyReport

__all__ = ["fmt_cost", "markdown_report", "policy_table", "category_table"]


def fmt_cost(value: float | None, unit: str | None) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    if unit == "usd":
        return f"${value * 1000:.3f}/1k"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ci(p: PolicyReport, key: str) -> str:
    lo_hi = p.ci95.get(key)
    return "-" if lo_hi is None else f"{100 * lo_hi[0]:.1f}-{100 * lo_hi[1]:.1f}"


def _has_vote(report: EvalReport) -> bool:
    return any(p.vote_accuracy is not None for p in report.policies.values())


def _columns(report: EvalReport) -> list[str]:
    """Short headers so the table fits an 80-column terminal; empty columns are left out."""
    cols = ["policy", "acc %", "95% CI", "cover %"]
    if _has_vote(report):
        cols.append("vote %")
    if report.cost_unit is not None:
        unit = "" if report.cost_unit == "usd" else f" ({report.cost_unit.replace('output_', 'out ')})"
        cols += [f"cost/q{unit}", "cost/pass"]
    cols += ["calls", "gap rec %"]
    if report.strong_weak is not None:
        cols += ["APGR", "CPT50 %", "CPT80 %"]
    return cols


def _row(name: str, p: PolicyReport, report: EvalReport) -> list[str]:
    row = [name, _pct(p.accuracy), _ci(p, "accuracy"), _pct(p.coverage)]
    if _has_vote(report):
        row.append(_pct(p.vote_accuracy))
    if report.cost_unit is not None:
        row += [fmt_cost(p.mean_cost, report.cost_unit), fmt_cost(p.cost_of_pass, report.cost_unit)]
    row += [f"{p.calls_per_query:.2f}", _pct(p.gap_recovered)]
    if report.strong_weak is not None:
        row += [_num(p.apgr), _num(p.cpt50, 1), _num(p.cpt80, 1)]
    return row


def policy_table(report: EvalReport) -> Table:
    title = f"{Path(report.dataset).name}: {report.split} split, {report.n} rows, {len(report.experts)} experts"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for c in _columns(report):
        table.add_column(c, justify="left" if c == "policy" else "right", no_wrap=True)
    for name, p in report.policies.items():
        table.add_row(*_row(name, p, report))
    return table


SHORT_NAMES = {"best_single": "best", "recruiter": "recruit", "regression": "regress", "category": "categ"}
TERMINAL_CATEGORY_POLICIES = ("router", "category", "recruiter", "best_single", "knn", "oracle")


def category_table(report: EvalReport) -> Table:
    names = [n for n in TERMINAL_CATEGORY_POLICIES if n in report.policies]
    table = Table(title="accuracy % per category (all policies in report.md)", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("category")
    table.add_column("rows", justify="right")
    for n in names:
        table.add_column(SHORT_NAMES.get(n, n), justify="right", no_wrap=True)
    for cat, rows in report.category_rows.items():
        table.add_row(cat, str(rows), *[_pct(report.policies[n].category_accuracy.get(cat)) for n in names])
    return table


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _md_traffic(report: EvalReport) -> str:
    names = list(report.policies)
    rows = [[e, *[_pct(report.policies[n].traffic.get(e, 0.0)) for n in names]] for e in report.experts]
    return _md_table(["expert", *names], rows)


def _md_category_traffic(report: EvalReport, policy: str) -> str:
    per_cat = report.policies[policy].category_traffic
    used = [e for e in report.experts if any(e in shares for shares in per_cat.values())]
    rows = [[c, *[_pct(per_cat.get(c, {}).get(e, 0.0)) for e in used]] for c in report.category_rows]
    return _md_table(["category", *used], rows)


def _md_sweep(report: EvalReport) -> str:
    rows = [
        [f"{p.cost_weight:g}", _pct(p.accuracy), _pct(p.coverage), fmt_cost(p.mean_cost, report.cost_unit), f"{p.calls_per_query:.2f}"]
        for p in report.cost_quality
    ]
    auc = ", ".join(f"{k} {v:.3f}" for k, v in report.cost_quality_auc.items() if v is not None)
    return _md_table(["cost_weight", "accuracy %", "coverage %", "cost / query", "calls/query"], rows) + f"\n\nNormalised AUC (upper hull with the single experts' points): {auc}"


def markdown_report(report: EvalReport, plots: list[str] | None = None) -> str:
    """The whole report as Markdown (tables, notes and links to the plots)."""
    parts = [
        f"# Routing evaluation: {report.dataset}",
        f"Split `{report.split}`: {report.n} rows ({report.n_train} train rows); {len(report.experts)} experts; "
        f"best single (chosen on train): `{report.best_single_expert}`; cost unit: {report.cost_unit or 'none'}; seed {report.seed}.",
        "## Policies",
        _md_table(_columns(report), [_row(n, p, report) for n, p in report.policies.items()]),
        "Accuracy is the score of the most preferred chosen expert; coverage (some chosen expert right) is an upper bound. "
        "Gap recovered = (acc - best single) / (oracle - best single). Cost of pass = mean cost / accuracy.",
        "\n".join(f"- `{n}`: {p.description}" for n, p in report.policies.items() if p.description),
    ]
    if report.strong_weak is not None:
        sw = report.strong_weak
        parts.append(
            f"Strong/weak pair: `{sw.strong}` ({_pct(sw.strong_accuracy)}%) vs `{sw.weak}` ({_pct(sw.weak_accuracy)}%). "
            "APGR and CPT as in RouteLLM, over an exact threshold sweep of each policy's predicted quality gap."
        )
    if report.cost_quality:
        parts += ["## Cost-quality dial (router)", _md_sweep(report)]
    if report.escalation:
        from orchestrator.escalation.render import escalation_markdown

        parts += ["## Escalation (cascade) policies", escalation_markdown(report.escalation, lambda c: fmt_cost(c, report.cost_unit))]
    parts += ["## Expert traffic (% of calls)", _md_traffic(report)]
    if "router" in report.policies:
        parts += ["## Router traffic per category (% of the category's calls)", _md_category_traffic(report, "router")]
    cats = [[c, str(r), *[_pct(p.category_accuracy.get(c)) for p in report.policies.values()]] for c, r in report.category_rows.items()]
    parts += ["## Accuracy per category (%)", _md_table(["category", "rows", *report.policies], cats)]
    if plots:
        parts += ["## Plots", "\n\n".join(f"![{p}]({p})" for p in plots)]
    if report.notes:
        parts += ["## Notes", "\n".join(f"- {n}" for n in report.notes)]
    return "\n\n".join(parts) + "\n"
