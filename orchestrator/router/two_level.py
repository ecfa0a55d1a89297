"""The two-level router: category classifier (CoE) then skill recruiter (Symbolic-MoE), with an
instance-level quality model and a cost dial.

``two_level`` ranks experts by a cross-validated blend of four estimates of P(correct):
per-expert logistic regression and k-nearest-neighbour scores on the query embedding, the
category prior (calibrated p(category | x) times per-category accuracy, or the overall row on an
uncertain category) and the skill profile. ``category`` is CoE alone (category -> mapped expert);
``recruiter`` is Symbolic-MoE alone (local suitability x global competence).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Literal

import numpy as np

from orchestrator.errors import RoutingError
from orchestrator.router import selection
from orchestrator.router.blend import choose_blend, compare_policies, first_choice
from orchestrator.router.decision import RankedExpert, RoutingDecision
from orchestrator.router.fitting import FitInputs, prepare_inputs
from orchestrator.router.parts import Parts, Signals, fit_parts, signals
from orchestrator.router.profiles import recruiter_weights
from orchestrator.router.selection import CostScale, normalise_cost
from orchestrator.router.text import query_views
from orchestrator.router.tuning import CoverChoice, choose_cover, free_accuracy
from orchestrator.threads import thread_controller

__all__ = ["TwoLevelRouter", "pin_single_thread_blas"]


_blas_pinned = False


def pin_single_thread_blas() -> None:
    """One BLAS thread for the rest of the process, for a process whose BLAS work is routing's
    small products (the gateway): routing then skips its per-call limit, which costs ~80 us
    (threadpoolctl re-reads every library's state), 16% of routing one query."""
    global _blas_pinned
    thread_controller().limit(limits=1, user_api="blas")
    _blas_pinned = True


def _single_thread_blas() -> Any:
    return contextlib.nullcontext() if _blas_pinned else thread_controller().limit(limits=1, user_api="blas")


Mode = Literal["two_level", "category", "recruiter"]
N_REPORTED_CATEGORIES = 3


class TwoLevelRouter:
    """Route queries to k experts; scikit-learn estimator conventions (params verbatim, state_ ends in ``_``).

    Parameters
    ----------
    entropy_threshold : normalised entropy of p(category | x) above which the query falls back
        to ``fallback_category``.
    k_min, k_max, top_p : dynamic k — the smallest expert set whose normalised score mass reaches
        ``top_p``, bounded by ``[k_min, k_max]``.
    selection : ``"top_k"`` (deterministic), ``"sample"`` (Symbolic-MoE: draws with replacement) or
        ``"cover"`` (greedy complementary experts: each next one most lowers the estimated chance
        that all chosen fail, from training neighbours shrunk towards all training rows by a mix
        chosen by cross-validation; see ``cover_``).
    cost_weight : default quality/cost dial (score = quality - cost_weight * log-scaled cost in
        [0, 1], see :class:`~orchestrator.router.selection.CostScale`), or ``"cv"``: the largest
        saving cross-validation says is free — the cheapest weight whose out-of-fold first-choice
        accuracy is within a hair of the best (``cv_cost_weight_``, see ``tuning.free_accuracy``)
        and not below its own category policy's or kNN's on the same folds (``cv_policies_``
        holds all three and the router's paired advantage). The blend is chosen by CV routing
        accuracy at this weight (at 0 for ``"cv"``).
    random_state : seeds folds, clustering and sampling.
    fallback_category : the category uncertain queries fall back to (config ``router.fallback_category``).
    k_temperature : softmax temperature turning scores into the mass used for dynamic k.
    n_neighbors_grid, C_grid, cv : the cross-validated search of the quality blend.
    category_C : regularisation of the category head.
    embedder : an :class:`orchestrator.embeddings.Embedder` (or the static tier); default MiniLM.
    """

    def __init__(
        self,
        *,
        entropy_threshold: float = 0.85,
        k_min: int = 1,
        k_max: int = 3,
        top_p: float = 0.5,
        selection: Literal["top_k", "sample", "cover"] = "top_k",
        cost_weight: float | Literal["cv"] = "cv",
        random_state: int = 0,
        fallback_category: str = "general",
        k_temperature: float = 0.05,
        n_neighbors_grid: tuple[int, ...] = (10, 20, 40),
        C_grid: tuple[float, ...] = (0.1, 1.0),
        cv: int = 5,
        category_C: float = 4.0,
        embedder: Any = None,
    ):
        self.entropy_threshold = entropy_threshold
        self.k_min = k_min
        self.k_max = k_max
        self.top_p = top_p
        self.selection = selection
        self.cost_weight = cost_weight
        self.random_state = random_state
        self.fallback_category = fallback_category
        self.k_temperature = k_temperature
        self.n_neighbors_grid = n_neighbors_grid
        self.C_grid = C_grid
        self.cv = cv
        self.category_C = category_C
        self.embedder = embedder

    # ------------------------------------------------------------------ params (sklearn style)

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        import inspect

        return {p: getattr(self, p) for p in inspect.signature(type(self).__init__).parameters if p != "self"}

    def set_params(self, **params: Any) -> TwoLevelRouter:
        for k, v in params.items():
            setattr(self, k, v)
        return self

    # ------------------------------------------------------------------ embeddings

    def _get_embedder(self) -> Any:
        if self.embedder is None:
            from orchestrator.embeddings import Embedder

            self.embedder = Embedder()
        return self.embedder

    def embed(self, prompts: list[str]) -> np.ndarray:
        """Router embeddings of prompts (one batched pass over their head+tail views)."""
        embedder = self._get_embedder()
        if getattr(embedder, "base", None) is not None:  # the static tier: small BLAS products too
            with _single_thread_blas():
                return np.asarray(embedder.encode(query_views(prompts)), dtype=np.float32)
        return np.asarray(embedder.encode(query_views(prompts)), dtype=np.float32)

    # ------------------------------------------------------------------ fit

    def fit(self, dataset, categories=None, config=None, embeddings: np.ndarray | None = None, *,
            category_embeddings: np.ndarray | None = None, progress=None) -> TwoLevelRouter:
        """Fit on a routing dataset (pass the train split). ``categories``: an optional
        categories.jsonl-style file for the category head; ``config``: experts.yaml (experts are
        intersected with the data's, prices fill in a missing cost signal, roles pick aggregators)."""
        if self.selection not in ("top_k", "sample", "cover"):
            raise ValueError(f"selection must be 'top_k', 'sample' or 'cover', got {self.selection!r}")
        if not (self.cost_weight == "cv" or (isinstance(self.cost_weight, int | float) and self.cost_weight >= 0)):
            raise ValueError(f"cost_weight must be a number >= 0 or 'cv', got {self.cost_weight!r}")
        if not 1 <= self.k_min <= self.k_max:
            raise ValueError(f"need 1 <= k_min <= k_max, got k_min={self.k_min}, k_max={self.k_max}")
        inp: FitInputs = prepare_inputs(self, dataset, categories, config, embeddings, category_embeddings, progress)
        say = progress or (lambda _msg: None)
        self.experts_ = inp.experts
        self.expert_report_ = inp.expert_report
        self.cost_unit_ = inp.cost_unit
        self.expert_cost_ = inp.expert_cost
        self.cost_scale_: CostScale | float = CostScale.fit(inp.expert_cost) if inp.expert_cost is not None else 1.0
        ks = tuple(sorted(set(min(k, len(inp.X)) for k in self.n_neighbors_grid)))
        say("cross-validating the quality blend")
        self.blend_, oof = choose_blend(
            inp.X, inp.scores, inp.costs, inp.labels, inp.tasks, ks=ks, Cs=tuple(self.C_grid),
            category_C=self.category_C, entropy_threshold=self.entropy_threshold,
            cost_scale=self.cost_scale_ if inp.expert_cost is not None else None, cv=self.cv,
            select_cost_weight=0.0 if self.cost_weight == "cv" else float(self.cost_weight),
            random_state=self.random_state, progress=say,
        )
        curve = self.blend_.cost_curve
        truth = np.nan_to_num(inp.scores, nan=0.0)
        rows = np.arange(len(truth))
        # Never below the simplest policy: the default weight may not take the router under the
        # CV accuracy of its own category policy or kNN on the same folds (issue 11).
        floor = max((float(truth[rows, pick].mean()) for pick in oof.policies.values()), default=-np.inf)
        self.cv_cost_weight_ = float(curve[free_accuracy(
            [c["accuracy"] for c in curve], [c["se"] for c in curve], [c["mean_cost"] for c in curve], floor=floor,
        )]["cost_weight"]) if curve else 0.0
        default_weight = self.cv_cost_weight_ if self.cost_weight == "cv" else float(self.cost_weight)
        scale = self.cost_scale_ if isinstance(self.cost_scale_, CostScale) else None
        self.cv_policies_ = compare_policies(first_choice(oof.quality, oof.cost, scale, default_weight), oof.policies, truth, oof.folds)
        # Held-out predictions on the training rows, for tuning what sits on top of the router
        # (escalation thresholds); private, so never written to the artifact.
        self._oof_quality, self._oof_cost = oof.quality, oof.cost
        say("cross-validating the coverage selector")
        self.cover_ = choose_cover(np.nan_to_num(inp.scores, nan=0.0), oof.neighbours, oof.folds)
        say("fitting on all training rows")
        self.parts_: Parts = fit_parts(
            inp.X, inp.scores, inp.costs, inp.labels, inp.tasks, k_max=max(ks), Cs=(self.blend_.C,),
            category_C=self.category_C, extra_X=inp.extra_X, extra_labels=inp.extra_labels, random_state=self.random_state,
        )
        self.parts_.profiles.experts = list(self.experts_)
        self.categories_ = list(self.parts_.category.classes_)
        self.category_expert_ = inp.category_expert(self.parts_, self.fallback_category)
        self.aggregator_ = inp.aggregators(self.parts_, self.fallback_category)
        self.n_train_ = len(inp.X)
        self._rng = np.random.default_rng(self.random_state)
        return self

    # ------------------------------------------------------------------ predict

    def _check_fitted(self) -> None:
        if not hasattr(self, "parts_"):
            raise RoutingError("the router is not fitted: call fit() or TwoLevelRouter.load(artifacts)")

    def _signals(self, prompts: list[str], embeddings: np.ndarray | None, cover_neighbours: int = 0) -> Signals:
        self._check_fitted()
        X = self.embed(prompts) if embeddings is None else np.asarray(embeddings, dtype=np.float32)
        if X.shape[0] != len(prompts):
            raise RoutingError(f"{X.shape[0]} embeddings for {len(prompts)} prompts")
        # Routing math is a few small matrix products: a multi-threaded BLAS spends 100x more
        # waking threads than computing (30 ms vs 0.1 ms per query on a busy 2-core machine).
        with _single_thread_blas():
            ks = (self.blend_.k,) + ((cover_neighbours,) if cover_neighbours else ())
            return signals(self.parts_, X, ks=ks, entropy_threshold=self.entropy_threshold)

    def predict_quality(self, prompts: list[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        """Predicted score of every expert on every prompt, ``(n, n_experts)`` in ``experts_`` order."""
        return np.clip(self.blend_.apply(self._signals(prompts, embeddings)), 0.0, 1.0)

    def quality_and_cost(self, prompts: list[str], *, embeddings: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Predicted P(correct) ``(n, m)`` and expected cost per call ``(n, m)`` (None without costs)."""
        s = self._signals(prompts, embeddings)
        return np.clip(self.blend_.apply(s), 0.0, 1.0), self._expected_cost(s, len(prompts))

    def _expected_cost(self, s: Signals, n: int) -> np.ndarray | None:
        if self.expert_cost_ is None:
            return None
        return s.cost if s.cost is not None else np.broadcast_to(self.expert_cost_, (n, len(self.experts_)))

    def route(self, prompts: list[str], *, embeddings: np.ndarray | None = None, k: int | None = None,
              cost_weight: float | Literal["cv"] | None = None, budget: float | None = None,
              allowed_experts: list[str] | None = None, mode: Mode = "two_level") -> list[RoutingDecision]:
        """Decide, for each prompt, which experts to call (vectorised over the batch).
        ``cost_weight``: None = the router's own, ``"cv"`` = the free-accuracy weight CV chose."""
        if mode not in ("two_level", "category", "recruiter"):
            raise RoutingError(f"unknown routing mode {mode!r}: use two_level, category or recruiter")
        if k is not None and k < 1:
            raise RoutingError(f"k must be at least 1, got {k}")
        cover = getattr(self, "cover_", CoverChoice())  # artifacts trained before the tuned cover
        s = self._signals(prompts, embeddings, cover_neighbours=cover.n_neighbors if self.selection == "cover" else 0)
        n = len(prompts)
        w = self.cost_weight if cost_weight is None else cost_weight
        if w == "cv":
            w = getattr(self, "cv_cost_weight_", 0.0)
        if w < 0:
            raise RoutingError(f"cost_weight must be >= 0, got {w}")
        cost = self._expected_cost(s, n)
        if mode == "recruiter":
            mass_source = recruiter_weights(self.parts_.profiles, s.skill_hot)
            quality = s.skill_quality
        elif mode == "category":
            quality = s.category_prior
            mass_source = None
        else:
            quality = self.blend_.apply(s)
            mass_source = None
        quality = np.clip(quality, 0.0, 1.0)
        base = mass_source if mass_source is not None else quality
        score = selection.cost_adjusted(base, cost, w, self.cost_scale_)
        allowed, reasons = self._allowed(allowed_experts, cost, budget, n)
        score = np.where(allowed, score, -np.inf)
        ks = self._k_per_row(score, mass_source, allowed, k, mode)
        if self.selection == "cover":
            train_fail = 1.0 - np.clip(self.parts_.knn.scores_, 0.0, 1.0)
            pen = None if cost is None or w == 0 else w * normalise_cost(cost, self.cost_scale_)
            picks = selection.greedy_cover(train_fail[s.neighbours[:, : cover.n_neighbors]], train_fail, ks,
                                           alpha=cover.alpha, allowed=np.isfinite(score), penalty=pen)
        elif self.selection == "sample":
            picks = selection.sample_experts(np.where(allowed, selection.mass_distribution(score, self.k_temperature) if mass_source is None else mass_source, 0.0), ks, self._rng)
        else:
            picks = selection.top_k(score, ks, cost)
        if mode == "category" and k is None:
            picks = self._category_picks(s, picks, allowed)
        return [self._decision(i, s, quality, score, cost, picks[i], reasons[i]) for i in range(n)]

    def _allowed(self, allowed_experts, cost, budget, n) -> tuple[np.ndarray, list[str | None]]:
        m = len(self.experts_)
        mask = np.ones((n, m), dtype=bool)
        if allowed_experts is not None:
            unknown = sorted(set(allowed_experts) - set(self.experts_))
            if unknown:
                raise RoutingError(f"unknown experts in allowed_experts: {', '.join(unknown)} (the router knows {', '.join(self.experts_)})")
            mask &= np.isin(np.array(self.experts_), allowed_experts)[None, :]
            if not mask.any():
                raise RoutingError("allowed_experts is empty")
        reasons: list[str | None] = [None] * n
        if budget is not None and cost is not None:
            within = mask & (cost <= budget)
            for i in np.flatnonzero(~within.any(axis=1)):
                cheapest = int(np.argmin(np.where(mask[i], cost[i], np.inf)))
                within[i, cheapest] = True
                reasons[i] = f"no expert fits the budget {budget:g}; chose the cheapest ({self.experts_[cheapest]})"
            mask = within
        return mask, reasons

    def _k_per_row(self, score, mass_source, allowed, k, mode) -> np.ndarray:
        n = score.shape[0]
        available = allowed.sum(axis=1)
        if k is not None:
            return np.minimum(k, available) if self.selection == "top_k" else np.full(n, k)
        if mode == "category":
            return np.ones(n, dtype=int)
        probs = np.where(allowed, mass_source, 0.0) if mass_source is not None else selection.mass_distribution(score, self.k_temperature)
        probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-300)
        return selection.dynamic_k(probs, self.top_p, self.k_min, self.k_max)

    def _category_picks(self, s: Signals, picks: list[list[int]], allowed: np.ndarray) -> list[list[int]]:
        """CoE: the category's mapped expert when allowed, else the best allowed by category prior."""
        out = []
        for i, fb in enumerate(s.fallback):
            cat = self.fallback_category if fb else self.categories_[int(s.category_probs[i].argmax())]
            j = self.experts_.index(self.category_expert_.get(cat, self.category_expert_[self.fallback_category]))
            out.append([j] if allowed[i, j] else picks[i])
        return out

    def _decision(self, i, s, quality, score, cost, pick, reason) -> RoutingDecision:
        probs = s.category_probs[i]
        top = np.argsort(-probs)[:N_REPORTED_CATEGORIES]
        category = self.fallback_category if s.fallback[i] else self.categories_[int(top[0])]
        if s.fallback[i]:
            reason = reason or f"uncertain category (normalised entropy {s.entropy[i]:.2f} > {self.entropy_threshold:.2f})"
        order = selection.top_k(score[i : i + 1], np.array([len(self.experts_)]), None if cost is None else cost[i : i + 1])[0]
        order += [j for j in range(len(self.experts_)) if j not in order]  # excluded experts last
        ranked = [
            RankedExpert(
                name=self.experts_[j],
                score=float(score[i, j]) if np.isfinite(score[i, j]) else float("-inf"),
                predicted_quality=float(quality[i, j]),
                est_cost=None if cost is None else float(cost[i, j]),
            )
            for j in order
        ]
        chosen = [self.experts_[j] for j in pick]
        return RoutingDecision(
            category=category,
            category_probs={self.categories_[int(j)]: float(probs[j]) for j in top},
            skills=list(s.skills[i]),
            experts=ranked,
            k=len(chosen),
            chosen=chosen,
            aggregator=self.aggregator_.get(category, self.aggregator_.get(self.fallback_category)) if len(set(chosen)) > 1 else None,
            fallback_reason=reason,
        )

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path, *, static_router: TwoLevelRouter | None = None) -> None:
        """Write the artifact folder. ``static_router``: the twin fitted on the static tier's
        vectors (``orchestrator train`` fits one), served when the gateway runs that tier."""
        from orchestrator.router.artifact import save_router

        save_router(self, Path(path), static_router=static_router)

    @classmethod
    def load(cls, path: str | Path, embedder: Any = None, *, tier: str | None = None) -> TwoLevelRouter:
        """``tier``: ``"static"`` (default; MiniLM with a warning when the artifact lacks it) or ``"minilm"``."""
        from orchestrator.router.artifact import DEFAULT_TIER, load_router

        return load_router(cls, Path(path), embedder=embedder, tier=tier or DEFAULT_TIER)
