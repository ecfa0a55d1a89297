"""PNG plots of an evaluation (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.evaluation.metrics import upper_hull
from orchestrator.evaluation.report import EvalReport

__all__ = ["write_plots"]

MARKERS = {"router": "*", "category": "P", "recruiter": "X", "best_single": "s", "random": "v", "oracle": "D", "knn": "o", "regression": "^"}
MAX_NAMED_EXPERTS = 12
MAX_TRAFFIC_EXPERTS = 12
CATEGORY_POLICIES = ("router", "category", "recruiter", "best_single", "knn", "oracle")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, ax: Any, path: Path, *, legend_size: int = 8) -> None:
    """Legend outside the axes (never over the data), then write and free the figure."""
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=legend_size)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _cost_label(report: EvalReport) -> tuple[str, float]:
    """Axis label and multiplier: USD is shown per 1,000 queries, proxies as they are."""
    if report.cost_unit == "usd":
        return "mean cost (USD per 1,000 queries)", 1000.0
    return f"mean cost per query ({(report.cost_unit or '').replace('_', ' ')})", 1.0


def _cost_quality(report: EvalReport, path: Path) -> None:
    plt = _plt()
    label, scale = _cost_label(report)
    fig, ax = plt.subplots(figsize=(9, 6), dpi=110)
    ec = report.expert_mean_cost or {}
    xs = np.array([ec[e] for e in ec]) * scale
    ys = np.array([report.expert_accuracy[e] for e in ec]) * 100
    ax.scatter(xs, ys, color="0.6", s=25, label="single experts", zorder=2)
    hx, hy = upper_hull(xs, ys)
    right = xs.min() + 0.7 * (xs.max() - xs.min()) if len(xs) else 0.0
    # With many experts only the ones on the hull and the most accurate are named (all are in report.md).
    named = set(ec) if len(ec) <= MAX_NAMED_EXPERTS else {e for e, x in zip(ec, xs, strict=True) if x in hx} | set(sorted(ec, key=lambda e: -report.expert_accuracy[e])[:3])
    for e, x, y in zip(ec, xs, ys, strict=True):
        if e not in named:
            continue
        # Labels of the rightmost experts go to their left so the axes do not cut them off.
        ha, dx = ("right", -7) if x > right else ("left", 5)
        ax.annotate(e, (x, y), fontsize=6, color="0.35", xytext=(dx, -9), textcoords="offset points", ha=ha)
    ax.plot(hx, hy, color="0.6", linestyle=":", label="experts' hull (no routing)", zorder=1)
    if report.cost_quality:
        cx = [p.mean_cost * scale for p in report.cost_quality]
        cy = [p.accuracy * 100 for p in report.cost_quality]
        ax.plot(cx, cy, color="tab:blue", marker=".", label="router cost dial (cost_weight sweep)", zorder=3)
        for i in (0, len(cx) - 1):
            ax.annotate(f"w={report.cost_quality[i].cost_weight:g}", (cx[i], cy[i]), fontsize=7, color="tab:blue", xytext=(4, 4), textcoords="offset points")
    for name, p in report.policies.items():
        if p.mean_cost is None:
            continue
        # The router is drawn last and largest: other policies often land on the same point.
        top = name == "router"
        ax.scatter([p.mean_cost * scale], [p.accuracy * 100], marker=MARKERS.get(name, "o"), s=160 if top else 80,
                   label=name, zorder=6 if top else 4, edgecolor="black", linewidth=0.5, alpha=0.9)
    if len(xs) and xs.max() / max(xs.min(), 1e-12) > 20:
        ax.set_xscale("log")
        label += ", log scale"
    ax.margins(x=0.08, y=0.06)  # room for the labels of the extreme points
    ax.set_xlabel(label)
    ax.set_ylabel(f"accuracy on {report.split} (%)")
    ax.set_title(f"Cost vs quality: {Path(report.dataset).name} ({report.n} rows)")
    ax.grid(True, alpha=0.3)
    _save(plt, fig, ax, path)


def _strong_weak(report: EvalReport, path: Path) -> None:
    plt = _plt()
    sw = report.strong_weak
    assert sw is not None
    fig, ax = plt.subplots(figsize=(9, 6), dpi=110)
    for name, (x, y) in sw.curves.items():
        apgr = report.policies[name].apgr
        ax.plot(x, np.array(y) * 100, label=f"{name} (APGR {apgr:.3f})" if apgr is not None else name)
    ax.plot([0, 100], [sw.weak_accuracy * 100, sw.strong_accuracy * 100], color="0.5", linestyle=":", label="random routing (APGR 0.5)")
    ax.axhline(sw.strong_accuracy * 100, color="red", linestyle="--", label=f"strong: {sw.strong}")
    ax.axhline(sw.weak_accuracy * 100, color="grey", linestyle="--", label=f"weak: {sw.weak}")
    ax.set_xlabel("calls to the strong expert (%)")
    ax.set_ylabel(f"accuracy on {report.split} (%)")
    ax.set_title(f"Threshold sweep (RouteLLM APGR): {Path(report.dataset).name}")
    ax.grid(True, alpha=0.3)
    _save(plt, fig, ax, path)


def _categories(report: EvalReport, path: Path) -> None:
    plt = _plt()
    cats = list(report.category_rows)
    names = [n for n in CATEGORY_POLICIES if n in report.policies]
    height = max(4.0, 0.35 * len(cats) * len(names) / 2 + 1.5)
    fig, ax = plt.subplots(figsize=(9, height), dpi=110)
    y = np.arange(len(cats))
    bar = 0.8 / len(names)
    for i, n in enumerate(names):
        vals = [report.policies[n].category_accuracy.get(c, 0.0) * 100 for c in cats]
        bars = ax.barh(y + i * bar, vals, height=bar, label=n)
        if len(cats) * len(names) <= 60:
            ax.bar_label(bars, fmt="%.1f", fontsize=6, padding=2)
    ax.set_yticks(y + 0.4 - bar / 2, [f"{c} (n={report.category_rows[c]})" for c in cats])
    ax.invert_yaxis()
    ax.set_xlabel(f"accuracy on {report.split} (%)")
    ax.set_xlim(0, 108)  # room for the value labels of 100% bars
    ax.set_title(f"Accuracy per category: {Path(report.dataset).name}")
    ax.grid(True, axis="x", alpha=0.3)
    _save(plt, fig, ax, path)


def _traffic_shares(report: EvalReport, names: list[str]) -> dict[str, np.ndarray]:
    """Per expert, its share of calls (%) under each policy; past a dozen experts the least used
    (by the learned policies) are folded into one "other" bar so colours stay distinct."""
    shares = {e: np.array([report.policies[n].traffic.get(e, 0.0) * 100 for n in names]) for e in report.experts}
    if len(shares) <= MAX_TRAFFIC_EXPERTS:
        return shares
    learned = [i for i, n in enumerate(names) if n != "random"]
    keep = sorted(shares, key=lambda e: -shares[e][learned].sum())[: MAX_TRAFFIC_EXPERTS - 1]
    rest = [e for e in report.experts if e not in keep]
    out = {e: shares[e] for e in report.experts if e in keep}
    out[f"other ({len(rest)} experts)"] = np.sum([shares[e] for e in rest], axis=0)
    return out


def _traffic(report: EvalReport, path: Path) -> None:
    plt = _plt()
    names = list(report.policies)
    fig, ax = plt.subplots(figsize=(10, max(4.0, 0.45 * len(names) + 1.5)), dpi=110)
    cmap = plt.get_cmap("tab20" if len(report.experts) > 10 else "tab10")
    left = np.zeros(len(names))
    for j, (e, share) in enumerate(_traffic_shares(report, names).items()):
        colour = (0.6, 0.6, 0.6, 1.0) if e.startswith("other (") else cmap(j % cmap.N)
        bars = ax.barh(names, share, left=left, color=colour, label=e)
        # Dark text on light bars, white on dark ones.
        ink = "black" if 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2] > 0.6 else "white"
        ax.bar_label(bars, labels=[f"{v:.0f}%" if v >= 8 else "" for v in share], label_type="center", fontsize=7, color=ink)
        left += share
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of expert calls (%)")
    ax.set_title(f"Expert traffic per policy: {Path(report.dataset).name}")
    _save(plt, fig, ax, path, legend_size=7)


def write_plots(report: EvalReport, out_dir: Path) -> list[str]:
    """Write the PNGs that apply to this report; returns their file names."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    jobs = [("categories.png", _categories), ("traffic.png", _traffic)]
    if report.expert_mean_cost:
        jobs.insert(0, ("cost_quality.png", _cost_quality))
    if report.strong_weak is not None and report.strong_weak.curves:
        jobs.insert(0, ("strong_weak.png", _strong_weak))
    for name, draw in jobs:
        draw(report, out_dir / name)
        written.append(name)
    return written
