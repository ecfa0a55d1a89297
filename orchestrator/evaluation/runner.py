"""``orchestrator eval`` end to end: load, embed once, fit (or load) the router, replay every policy.

The router and its baselines come from :mod:`orchestrator.router`; this module only wires them
to the dataset, so what is measured is the code the gateway runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from orchestrator.config import Config, load_config
from orchestrator.data import RoutingDataset, load_dataset, summarize
from orchestrator.errors import ConfigError, DatasetError, Problem
from orchestrator.escalation.offline import MAX_ROWS as ESCALATION_MAX_ROWS
from orchestrator.evaluation.costs import CostSignal, resolve_costs
from orchestrator.evaluation.embedding import embed_prompts
from orchestrator.evaluation.policies import FixedPolicy, OraclePolicy, Policy, RouterPolicy
from orchestrator.evaluation.report import CostQualityPoint, EvalReport
from orchestrator.evaluation.metrics import cost_quality_auc
from orchestrator.evaluation.scoring import Scored, score_policies

__all__ = ["DEFAULT_COST_WEIGHTS", "EvalOptions", "EvalResult", "Progress", "run_evaluation"]

# The router's dial subtracts cost_weight x cost / cost scale from predicted quality, so a few
# units span "ignore cost" to "cheapest expert almost always".
DEFAULT_COST_WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
POLICY_ORDER = ("router", "category", "recruiter", "best_single", "random", "oracle", "knn", "regression")


class Progress(Protocol):
    def stage(self, label: str, total: int | None = None) -> Any:
        """A context manager yielding ``advance(n)``."""


class _Quiet:
    @contextmanager
    def stage(self, label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        yield lambda n=1: None


@dataclass(kw_only=True)
class EvalOptions:
    data: Path
    config_path: Path | None = None
    artifacts: Path | None = None
    split: str = "test"
    seed: int = 0
    k: int | None = None
    n_boot: int = 1000
    cost_weights: tuple[float, ...] = DEFAULT_COST_WEIGHTS
    embed_chunk: int = 2048
    embedding_cache: Path | None = None
    sweep_rows: int = 20_000
    escalation: bool = True
    escalation_rows: int = ESCALATION_MAX_ROWS


@dataclass
class EvalResult:
    report: EvalReport
    scored: dict[str, Scored]
    test: RoutingDataset


def _check_config(config: Config, ds: RoutingDataset) -> RoutingDataset:
    missing = [e for e in config.expert_names if e not in ds.experts]
    if missing:
        problems = [
            Problem(path="experts", message=f"{e!r} is in the config but the dataset has no scores for it", source=config.source)
            for e in missing
        ]
        problems.append(Problem(path="", message=f"the dataset's experts are: {', '.join(ds.experts)}", source=ds.source))
        raise ConfigError(problems)
    return ds.select_experts(config.expert_names)


def _load(opts: EvalOptions) -> tuple[Config | None, RoutingDataset, list[str]]:
    notes: list[str] = []
    config = load_config(opts.config_path) if opts.config_path is not None else None
    ds = load_dataset(opts.data, require_complete=True)
    if not len(ds):
        raise DatasetError(Problem(path="", message="the file has no rows", source=str(opts.data)))
    if config is not None:
        extra = [e for e in ds.experts if e not in config.expert_names]
        ds = _check_config(config, ds)
        if extra:
            notes.append(f"experts in the data but not in the config were left out: {', '.join(extra)}")
    splits = sorted({s or "(none)" for s in ds.splits})
    if opts.split not in splits:
        raise DatasetError(Problem(path="split", message=f"no rows with split {opts.split!r} (splits present: {', '.join(splits)})", source=str(opts.data)))
    if opts.artifacts is None and "train" not in splits:
        raise DatasetError(Problem(path="split", message="no 'train' rows to fit the router on; pass --artifacts", source=str(opts.data)))
    return config, ds, notes


def _router_params(config: Config | None, seed: int) -> dict[str, Any]:
    """The router as ``orchestrator train`` builds it: experts.yaml's ``router`` section, ``--seed``."""
    from orchestrator.router.dials import router_params

    return {"random_state": seed, **router_params(config.router if config is not None else None)}


def _fit_routers(train: RoutingDataset, emb: np.ndarray, config: Config | None, opts: EvalOptions, progress: Progress) -> dict[str, Any]:
    from orchestrator.router import TwoLevelRouter

    routers: dict[str, Any] = {}
    if opts.artifacts is None:
        with progress.stage("fitting the two-level router") as advance:
            routers["router"] = TwoLevelRouter(**_router_params(config, opts.seed)).fit(train, config=config, embeddings=emb)
            advance(1)
    if not len(train):
        return routers  # baselines learn from train rows; without them only the router is replayed
    from orchestrator.router.baselines import BestSingleRouter, KNNRouter, RandomRouter, ScoreRegressionRouter

    makers = {
        "knn": lambda: KNNRouter(n_neighbors=20),
        "regression": ScoreRegressionRouter,
        "random": lambda: RandomRouter(random_state=opts.seed),
        "best_single": BestSingleRouter,
    }
    with progress.stage("fitting baselines", total=len(makers)) as advance:
        for name, make_baseline in makers.items():
            routers[name] = make_baseline().fit(train, embeddings=emb)
            advance(1)
    return routers


def _load_router(opts: EvalOptions, config: Config | None, embedder: Any) -> tuple[Any, list[str]]:
    """The artifact with experts.yaml's dials applied, as the gateway serves it."""
    from orchestrator.router.dials import load_configured

    return load_configured(opts.artifacts, config.router if config is not None else None, embedder=embedder)


def _best_single(ds: RoutingDataset, split: str) -> tuple[str, Any]:
    """The best single expert exactly as ``orchestrator data inspect`` picks it (on train) and its view."""
    summary = summarize(ds)
    view = next((v for v in summary.views if v.name == split), summary.views[0])
    return view.best_single, view


def _train_ranking(train: RoutingDataset, costs: CostSignal) -> list[int]:
    acc = np.nan_to_num(train.scores, nan=0.0).mean(axis=0)
    tie = costs.matrix.mean(axis=0) if costs.matrix is not None else np.zeros(len(acc))
    return [int(j) for j in np.lexsort((tie, -acc))]


def _router_kwargs(router: Any, test: RoutingDataset) -> dict[str, Any]:
    """A loaded router may know experts this dataset has no scores for: keep it to the ones it has."""
    known = list(getattr(router, "experts_", test.experts))
    usable = [e for e in known if e in test.experts]
    if not usable:
        raise DatasetError(Problem(path="experts", message=f"the router's experts ({', '.join(known)}) have no scores in the dataset", source=test.source))
    return {"allowed_experts": usable} if len(usable) < len(known) else {}


def _policies(routers: dict[str, Any], test: RoutingDataset, ranking: list[int], best: str, costs: CostSignal, opts: EvalOptions) -> dict[str, Policy]:
    """Every policy of one run; ``ranking`` orders experts by train accuracy (for --k panels)."""
    k = opts.k
    r = routers["router"]
    base = {"k": k, **_router_kwargs(r, test)}
    # RouteLLM's sweep needs the router's quality for both experts of a pair.
    two = len(test.experts) == 2
    two_for_router = two and all(e in list(getattr(r, "experts_", test.experts)) for e in test.experts)
    best_j = test.expert_index(best)
    panel = [best_j, *[j for j in ranking if j != best_j]][: (k or 1)]
    if "best_single" in routers:
        single: Policy = RouterPolicy("best_single", routers["best_single"], {"k": k}, f"best single expert on train ({best})")
    else:
        single = FixedPolicy("best_single", panel, f"best single expert on train ({best})")
    policies: dict[str, Policy] = {
        "router": RouterPolicy("router", r, {"mode": "two_level", **base}, "two-level router (category, then skill recruiter)", with_quality=two_for_router),
        "category": RouterPolicy("category", r, {"mode": "category", **base}, "category classifier -> the category's best expert (CoE)"),
        "recruiter": RouterPolicy("recruiter", r, {"mode": "recruiter", **base}, "skill recruiter alone (Symbolic-MoE)"),
        "best_single": single,
        "oracle": OraclePolicy(costs.matrix, description="cheapest correct expert per row (reads the recorded scores)"),
    }
    baselines = {
        "random": "uniformly random expert(s)",
        "knn": "kNN (20 neighbours) mean recorded score",
        "regression": "per-expert score regression",
    }
    for name, description in baselines.items():
        if name in routers:
            policies[name] = RouterPolicy(name, routers[name], {"k": k}, description, with_quality=two)
    return {name: policies[name] for name in POLICY_ORDER if name in policies}


def _sweep(router: Any, test: RoutingDataset, emb: np.ndarray, costs: CostSignal, opts: EvalOptions, progress: Progress) -> list[CostQualityPoint]:
    """The router's quality/cost dial: one replay per ``cost_weight`` (of a sample on large splits:
    each replay costs as much as the router policy's own)."""
    from orchestrator.evaluation.outcomes import score_selection

    rows = test.sample_rows(opts.sweep_rows, opts.seed)
    if rows is not None:
        test, emb, costs = test.subset(rows), emb[rows], CostSignal(costs.matrix[rows], costs.unit, costs.source)  # type: ignore[index]
    points = []
    with progress.stage("sweeping the cost dial", total=len(opts.cost_weights)) as advance:
        for w in opts.cost_weights:
            kwargs = {"mode": "two_level", "k": opts.k, "cost_weight": w, **_router_kwargs(router, test)}
            sel = RouterPolicy("router", router, kwargs).choose(test, emb)
            out = score_selection(test, sel, costs.matrix)
            points.append(
                CostQualityPoint(
                    cost_weight=w, accuracy=float(out.first.mean()), mean_cost=float(out.cost.mean()),  # type: ignore[union-attr]
                    calls_per_query=float(out.calls.mean()), coverage=float(out.coverage.mean()),
                )
            )
            advance(1)
    return points


def _rows(ds: RoutingDataset, split: str) -> np.ndarray:
    return np.array([s == split for s in ds.splits], dtype=bool)


def _split_costs(costs: CostSignal, ds: RoutingDataset, split: str) -> CostSignal:
    return CostSignal(None if costs.matrix is None else costs.matrix[_rows(ds, split)], costs.unit, costs.source)


def _replay(policies: dict[str, Policy], test: RoutingDataset, emb: np.ndarray, progress: Progress) -> dict[str, Any]:
    selections = {}
    with progress.stage("replaying policies", total=len(policies)) as advance:
        for name, p in policies.items():
            selections[name] = p.choose(test, emb)
            advance(1)
    return selections


class _Clock:
    """Wall time per stage, for the report's ``timings_s``."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.timings: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.last, 3)
        self.last = now

    def total(self) -> dict[str, float]:
        return {**self.timings, "total": round(time.perf_counter() - self.start, 3)}


def run_evaluation(opts: EvalOptions, *, progress: Progress | None = None, embedder: Any = None) -> EvalResult:
    """Evaluate every policy on ``opts.split`` of ``opts.data``; see :class:`EvalReport`."""
    progress = progress or _Quiet()
    clock = _Clock()
    config, ds, notes = _load(opts)
    train, test = ds.split("train"), ds.split(opts.split)
    costs = resolve_costs(ds, config)
    train_costs, test_costs = _split_costs(costs, ds, "train"), _split_costs(costs, ds, opts.split)
    loaded = None
    if opts.artifacts is not None:
        loaded, dial_notes = _load_router(opts, config, embedder)
        notes.extend(dial_notes)
    clock.lap("load")

    embedder = embedder or (loaded.embedder if loaded is not None else _default_embedder())
    # Train prompts on their own: the list `orchestrator train` embeds, so its cache applies.
    with progress.stage("embedding prompts", total=len(train) + len(test)) as advance:
        train_emb = embed_prompts(train.prompts, embedder, chunk=opts.embed_chunk, on_chunk=advance, cache_dir=opts.embedding_cache)
        test_emb = embed_prompts(test.prompts, embedder, chunk=opts.embed_chunk, on_chunk=advance, cache_dir=opts.embedding_cache)
    clock.lap("embed")

    routers = _fit_routers(train, train_emb, config, opts, progress)
    if loaded is not None:
        routers["router"] = loaded
    clock.lap("fit")

    best, view = _best_single(ds, opts.split)
    ranking = _train_ranking(train, train_costs) if len(train) else []
    policies = _policies(routers, test, ranking, best, test_costs, opts)
    report, scored = score_policies(
        test, policies, costs=test_costs, embeddings=test_emb, best_single="best_single", strong_expert=best,
        n_boot=opts.n_boot, seed=opts.seed, selections=_replay(policies, test, test_emb, progress),
    )
    clock.lap("replay")

    if test_costs.matrix is not None:
        report.cost_quality = _sweep(routers["router"], test, test_emb, test_costs, opts, progress)
        report.cost_quality_auc["router_dial"] = _dial_auc(report)
        clock.lap("sweep")
    report.escalation = _escalation(routers["router"], train, test, test_emb, train_costs, test_costs, opts, progress)
    clock.lap("escalation")
    report.dataset, report.split, report.n_train, report.k = str(opts.data), opts.split, len(train), opts.k
    report.best_single_expert = best
    report.router = {"source": str(opts.artifacts) if opts.artifacts else f"fitted on the train split ({len(train)} rows)"}
    if getattr(routers["router"], "cv_policies_", None):
        report.router["cv_policies"] = routers["router"].cv_policies_  # the router beside its simple policies on train CV
    if loaded is not None:  # an artifact replays on the tier the gateway serves it on (static by default)
        report.router["embedding_tier"] = getattr(loaded, "embedding_tier", "minilm")
    report.notes = notes + _notes(report, view, costs, opts, routers["router"])
    report.timings_s = clock.total()
    return EvalResult(report, scored, test)


def _escalation(router: Any, train: RoutingDataset, test: RoutingDataset, test_emb: np.ndarray, train_costs: CostSignal,
                test_costs: CostSignal, opts: EvalOptions, progress: Progress) -> dict[str, Any] | None:
    """Escalation policies replayed over the recorded answers (only for a router fitted here:
    its held-out predictions on train tune the thresholds)."""
    if not opts.escalation or not len(train):
        return None
    from orchestrator.escalation.offline import escalation_report
    from orchestrator.escalation.replay import PLANS

    ones = lambda d: np.ones(d.scores.shape)  # noqa: E731 - no cost signal: every call costs 1
    with progress.stage("replaying escalation plans", total=len(PLANS)) as advance:
        return escalation_report(router, train, test, test_emb,
                                 train_costs.matrix if train_costs.matrix is not None else ones(train),
                                 test_costs.matrix if test_costs.matrix is not None else ones(test), seed=opts.seed,
                                 on_plan=advance, max_rows=opts.escalation_rows)


def _default_embedder() -> Any:
    from orchestrator.embeddings import Embedder

    return Embedder()


def _dial_auc(report: EvalReport) -> float | None:
    if not report.expert_mean_cost:
        return None
    ec = np.array(list(report.expert_mean_cost.values()))
    ea = np.array([report.expert_accuracy[e] for e in report.expert_mean_cost])
    pc = np.array([p.mean_cost for p in report.cost_quality])
    pa = np.array([p.accuracy for p in report.cost_quality])
    return cost_quality_auc(np.r_[ec, pc], np.r_[ea, pa], float(ec.min()), float(ec.max()))


def _notes(report: EvalReport, view: Any, costs: CostSignal, opts: EvalOptions, router: Any) -> list[str]:
    notes = [f"cost: {costs.source}"]
    if report.n_train == 0:
        notes.append("no train rows: best single was chosen on the evaluated rows themselves (optimistic)")
    unknown = [e for e in report.experts if e not in list(getattr(router, "experts_", report.experts))]
    if unknown:
        notes.append(f"the router does not know {', '.join(unknown)}; only the baselines can choose them")
    bs, orc = report.policies["best_single"], report.policies["oracle"]
    if opts.k in (None, 1) and (abs(bs.accuracy - view.best_single_accuracy) > 1e-9 or abs(orc.accuracy - view.oracle_accuracy) > 1e-9):
        notes.append(
            f"MISMATCH with `orchestrator data inspect`: best single {view.best_single_accuracy:.4f} / oracle {view.oracle_accuracy:.4f}"
        )
    cv = getattr(router, "cv_policies_", None)
    if cv:
        from orchestrator.router.blend import describe_policies

        notes.append(f"train CV (the router's own folds, at its default cost weight): {describe_policies(cv)}")
    if report.cost_quality and report.n > opts.sweep_rows:
        notes.append(f"the cost-dial sweep replays a seeded sample of {opts.sweep_rows} of the {report.n} rows")
    if any(p.max_k > 1 for p in report.policies.values()):
        notes.append(
            "k > 1: `accuracy` is the most preferred chosen expert's score (a floor for a good aggregator), "
            "`coverage` an upper bound, `vote_accuracy` a majority over recorded answers; the aggregator's own call is not in the cost."
        )
    return notes
