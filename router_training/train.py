"""``orchestrator train``: fit the two-level router on a routing file and write its artifacts.

Fits on the ``train`` split (every row when the file has no split), with the experts of the
data ∩ the config (mismatches are reported, never dropped silently), writes the artifact
folder and, optionally, a YAML profile section to paste into experts.yaml.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from orchestrator.data import load_category_file, load_dataset
from orchestrator.escalation.offline import MAX_ROWS as ESCALATION_MAX_ROWS

__all__ = ["TrainReport", "fit_static_tier_router", "profile_yaml", "train_router"]


@dataclass
class TrainReport:
    rows: int
    experts: list[str]
    only_in_data: list[str]
    only_in_config: list[str]
    categories: list[str]
    cost_unit: str | None
    cv_accuracy: float
    blend: dict[str, float]
    out: Path
    profile_out: Path | None = None
    category_expert: dict[str, str] = field(default_factory=dict)
    cv_policies: dict[str, dict[str, float]] = field(default_factory=dict)  # the router beside its simple policies (router.cv_policies_)
    escalation: dict[str, dict[str, dict]] = field(default_factory=dict)  # tuned cascade settings per signal and dial (router.escalation_)
    escalation_tier: str = "minilm"  # whose settings ``escalation`` holds: the tier `serve` loads by default (static when distilled)
    escalation_untuned: dict[str, str] = field(default_factory=dict)  # live signals the data cannot tune, and what it lacks


def profile_yaml(router) -> str:
    """The reviewable profile: per expert, its smoothed win rate per skill (rate in (-1, 1)) and,
    in a comment, how many training questions carried each skill."""
    prof = router.parts_.profiles
    seen = ", ".join(f"{s}={int(n)}" for s, n in zip(prof.skills, prof.n_seen, strict=True))
    body = {"experts": [{"name": e, "profile": p} for e, p in prof.to_yaml_dict().items()]}
    head = "# Expert profiles written by `orchestrator train`: skill -> Laplace-smoothed net win rate\n"
    head += f"# ((wins - losses) / (n + 2)); questions per skill: {seen}\n"
    return head + yaml.safe_dump(body, sort_keys=False, width=120)


def fit_static_tier_router(router, ds, cats=None, config=None, say: Callable[[str], None] | None = None):
    """The same router fitted on the static tier's own vectors, which are what it sees when it
    serves. The MiniLM-fitted router reading projected static vectors lost 0.009 on mmlu_pro
    (bench_routing_quality --tiers-only); fitted on them it is within 0.004 of MiniLM, at equal
    train-CV accuracy (docs/benchmarks.md, "Which embedding tier ships")."""
    from orchestrator.router import TwoLevelRouter
    from orchestrator.router.static_tier import StaticEmbedder
    from orchestrator.router.text import query_views

    static = StaticEmbedder(router.static_tier_, base=router.embedder)
    X = static.encode(query_views(ds.prompts))
    cat_X = None if cats is None else static.encode(query_views(cats.texts))
    twin = TwoLevelRouter(**{k: v for k, v in router.get_params().items() if k != "embedder"}, embedder=router.embedder)
    return twin.fit(ds, categories=cats, config=config, embeddings=X, category_embeddings=cat_X, progress=say or (lambda _m: None))


def tune_escalation_dials(router, ds, say: Callable[[str], None], *, max_rows: int = ESCALATION_MAX_ROWS, seed: int = 0) -> dict[str, str]:
    """The cascade settings a request's ``escalation.dial`` deploys (``router.escalation_``), chosen
    on the router's own held-out predictions for the training rows, as ``eval`` chooses them (on a
    seeded sample of ``max_rows`` rows of a larger training split, the sample eval's table reads).
    Returns the signals left untuned, each with what the data lacks."""
    from orchestrator.escalation.offline import sampled_inputs
    from orchestrator.escalation.replay import tune_escalation, unmeasurable

    if list(ds.experts) != list(router.experts_):
        ds = ds.select_experts(list(router.experts_))  # the experts the config kept
    quality, est = router._oof_quality, router._oof_cost
    cost, _ = ds.cost_matrix()
    if cost is None:  # no recorded cost: the router's own estimate (config prices), else every call costs 1
        cost = est if est is not None else np.ones(ds.scores.shape)
    inputs, sampled = sampled_inputs(ds, quality, est, cost, router.cost_scale_, max_rows=max_rows, seed=seed)
    say(f"tuning the escalation dials on {len(inputs)} of {len(ds)} rows" if sampled else "tuning the escalation dials")
    router.escalation_ = tune_escalation(inputs)
    return unmeasurable(inputs)


def train_router(
    data: str | Path,
    out: str | Path,
    *,
    config_path: str | Path | None = None,
    categories_path: str | Path | None = None,
    seed: int = 0,
    profile_out: str | Path | None = None,
    static_tier: bool = True,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> TrainReport:
    from orchestrator.config import load_config
    from orchestrator.embeddings import Embedder
    from orchestrator.router import TwoLevelRouter
    from orchestrator.router.dials import router_params
    from router_training.embedding_cache import cached_embeddings, default_cache_dir

    say = progress or (lambda _m: None)
    config = load_config(config_path) if config_path is not None else None
    ds = load_dataset(data, require_complete=True)  # what `eval` rejects, `train` rejects too (file:line)
    if any(s == "train" for s in ds.splits):
        ds = ds.split("train")
    router = TwoLevelRouter(random_state=seed, **router_params(config.router if config is not None else None), embedder=Embedder())
    cache = None if not use_cache else (default_cache_dir() if cache_dir is None else cache_dir)
    say(f"embedding {len(ds)} training prompts")
    X = cached_embeddings(ds.prompts, router.embedder, cache_dir=cache)
    cats = cat_X = None
    if categories_path is not None:
        cats = load_category_file(categories_path)
        if any(s == "train" for s in cats.splits):
            cats = cats.split("train")
        say(f"embedding {len(cats.texts)} category-labelled queries")
        cat_X = cached_embeddings(cats.texts, router.embedder, cache_dir=cache)
    router.fit(ds, categories=cats, config=config, embeddings=X, category_embeddings=cat_X, progress=say)
    untuned = tune_escalation_dials(router, ds, say, seed=seed)
    twin = None
    if static_tier:
        from router_training.static_distill import distil_static_tier

        say("distilling the static embedding tier")
        # The tier's map into MiniLM's space is a 384x384 ridge fit: every train-split text
        # with a MiniLM embedding at hand helps it, the category-labelled queries included.
        texts, targets = (ds.prompts, X) if cats is None else ([*ds.prompts, *cats.texts], np.vstack([X, cat_X]))
        router.static_tier_ = distil_static_tier(router.embedder, texts, targets, progress=say, cache_dir=cache)
        say("fitting the static tier's own router")
        twin = fit_static_tier_router(router, ds, cats, config, say)
        untuned = tune_escalation_dials(twin, ds, say, seed=seed)
    router.save(out, static_router=twin)
    if profile_out is not None:
        Path(profile_out).write_text(profile_yaml(router), encoding="utf-8")
    rep = router.expert_report_
    return TrainReport(
        rows=len(ds), experts=list(router.experts_), only_in_data=rep["only_in_data"], only_in_config=rep["only_in_config"],
        categories=list(router.categories_), cost_unit=router.cost_unit_, cv_accuracy=router.blend_.cv_accuracy,
        blend={**router.blend_.weights, "k": router.blend_.k, "C": router.blend_.C}, out=Path(out),
        profile_out=None if profile_out is None else Path(profile_out), category_expert=dict(router.category_expert_),
        cv_policies=dict(router.cv_policies_), escalation=dict((twin or router).escalation_),
        escalation_tier="minilm" if twin is None else "static", escalation_untuned=untuned,
    )
