"""The escalation table as Markdown (``orchestrator eval``'s report.md and the bench)."""

from __future__ import annotations

from typing import Any

__all__ = ["escalation_markdown"]


def escalation_markdown(esc: dict[str, Any], cost: Any) -> str:
    """``cost``: formats a mean cost (the report's unit)."""
    head = "| policy | accuracy | cost | cost-of-pass | escalation | calls/query | top-model share | chosen on train CV |\n|---|---|---|---|---|---|---|---|"
    rows = []
    for name, p in esc["policies"].items():
        how = ""
        if "plan" in p:
            plan = p["plan"]
            how = (f"{p['learner']} model, " if "learner" in p else "") + (f"threshold {p['threshold']:g}; {plan['probes']} probe(s) at cost weight {plan['probe_cost_weight']:g}, "
                   f"{plan['max_tiers']} tiers, merge {plan.get('merge', 'vote')}; CV {p['train_accuracy']:.3f} at {cost(p['train_mean_cost'])}")
        rows.append(f"| {name} | {p['accuracy']:.3f} | {cost(p['mean_cost'])} | {cost(p['cost_of_pass'])} | {p['escalation_rate']:.2f} | "
                    f"{p['calls_per_query']:.2f} | {p['top_model_share']:.2f} | {how} |")
    curves = [f"- `{signal}` (its 'beat' plan, test; threshold: accuracy @ cost): " + "; ".join(
        f"{c['threshold']:g}: {c['accuracy']:.3f} @ {cost(c['mean_cost'])}" for c in curve) for signal, curve in esc["curves"].items()]
    best = esc["train_best_single"]
    lines = [f"Top model (best single on train): `{esc['top_model']}`, train accuracy {best['accuracy']:.3f} at {cost(best['mean_cost'])}. "
             "Every call is charged; `match` = the cheapest setting that matched best single's accuracy on train CV, "
             "`beat` = the most accurate setting within its cost.", head, *rows]
    if curves:
        lines += ["", "Cost-accuracy curve per signal:", *curves]
    if esc.get("first_tier_auroc"):
        lines += ["", "How well each signal separates right from wrong first-tier answers (AUROC, test, its 'beat' plan): " + "; ".join(
            f"{signal} {a:.3f}" for signal, a in esc["first_tier_auroc"].items())]
    lines += [f"- note: {n}" for n in esc.get("notes", [])]
    return "\n".join(lines[:1] + [""] + lines[1:])
