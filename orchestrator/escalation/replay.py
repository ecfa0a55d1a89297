"""Escalation policies replayed over recorded answers, tuned on training rows, scored on test.

For every cascade plan (how many probes, how cheap, how many tiers) each row's tiers are
replayed once: the merged answer's recorded score, the cost each tier adds (every call charged)
and the confidence features after each tier. A threshold then decides per row where the cascade
stops, so a whole cost-accuracy curve is a few vectorised operations. Thresholds and plans are
chosen on out-of-fold training rows only (the router's held-out predictions, the learned signal
fitted per fold, its learner chosen with them); two operating points are kept per signal: the cheapest that matches the best
single model's training accuracy ("match") and, among those that cost no more than it, the
cheapest that gives up no accuracy CV can see against the most accurate ("beat": the rule of the
router's default cost weight, :func:`~orchestrator.router.tuning.free_accuracy`), and the test
split only reports them. :func:`tune_escalation` makes the same choice from the training rows
alone, for ``orchestrator train`` to store in the artifact (a request's ``escalation.dial``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, TypeVar

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold

from orchestrator.data.summary import oracle_choice
from orchestrator.escalation.cascade import CascadePlan, plan_tiers, tally
from orchestrator.escalation.signals import FEATURES, LEARNERS, Confidence, TierModels, signal_value, tally_features
from orchestrator.router.tuning import fold_mean_and_se, free_accuracy

__all__ = ["LIVE_SIGNALS", "PLANS", "PROBE_COST_WEIGHTS", "THRESHOLDS", "EscalationInputs", "OperatingPoint", "Trace", "auroc", "cascade_plans",
           "evaluate_escalation", "operating_points", "stop_at", "trace_plan", "truncate", "tune_escalation", "unmeasurable"]

THRESHOLDS = tuple(np.round(np.arange(0.0, 1.0001, 0.025), 3))
# Tier 1's cost weight spans the router's dial (blend.COST_WEIGHT_GRID's useful range), not only
# its cheap end: on mmlu_pro, train CV's most accurate cascade within best single's cost starts
# from an expert the router still rates near the top (0.05) and escalates the least sure fifth,
# while the cheap probes (0.3, 1.0) serve the "match" point. 40 plans (~23 s of replay on mmlu_pro).
PROBE_COST_WEIGHTS = (0.05, 0.1, 0.15, 0.3, 1.0)
V = TypeVar("V")


def cascade_plans(probe_cost_weights: tuple[float, ...] = PROBE_COST_WEIGHTS) -> tuple[CascadePlan, ...]:
    """The plans cross-validation chooses among: 1-2 probes x tier-1 cost weight x 2-3 tiers x merge."""
    return tuple(
        CascadePlan(probes=p, probe_cost_weight=w, max_tiers=t, merge=merge)
        for p, w, t, merge in itertools.product((1, 2), probe_cost_weights, (2, 3), ("vote", "strongest"))
    )


PLANS = cascade_plans()


@dataclass
class EscalationInputs:
    """One split's recorded outcomes and the router's view of it (all ``(n, m)``)."""

    scores: np.ndarray
    cost: np.ndarray  # recorded cost per call
    answers: list[list[str | None]]
    quality: np.ndarray  # router's P(correct) (held-out on train)
    cost_norm: np.ndarray | None  # router's expected cost on its [0, 1] scale
    lengths: np.ndarray | None = None  # output length per call (an answer-side signal)
    length_unit: str | None = None  # what ``lengths`` counts: "tokens" or "chars" (the live cascade measures the same)
    logprobs: np.ndarray | None = None  # mean token log-probability per call
    tasks: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return self.scores.shape[0]

    @property
    def has_answers(self) -> bool:
        """Whether any extracted answer is recorded: without them no two answers can agree."""
        return any(a is not None for row in self.answers for a in row)


ANSWER_SIGNALS = ("agreement", "posterior")
"""Signals that compare the experts' answers: neither is measured (nor tuned) on data that
records none, where they would read every pair as disagreeing."""
NO_ANSWERS_NOTE = ("no extracted answers are recorded in this data: the agreement and posterior signals, the top-3 vote and "
                   "the fixed agree-else-strongest cascade compare answers, so they are left out")


def unmeasurable(*splits: EscalationInputs) -> dict[str, str]:
    """The signals these splits cannot measure, each with what the data lacks."""
    out: dict[str, str] = {}
    if not all(d.has_answers for d in splits):
        out.update(dict.fromkeys(ANSWER_SIGNALS, "no extracted answers are recorded"))
    if any(d.logprobs is None for d in splits):
        out["logprob"] = "no token log-probabilities are recorded"
    return out


@dataclass
class Trace:
    """Per-row replay of one plan: after tier t, the merged answer's score and features."""

    score: np.ndarray  # (n, T)
    cost_add: np.ndarray  # (n, T)
    calls_add: np.ndarray  # (n, T)
    top_add: np.ndarray  # (n, T) bool: tier t called the top (best single) model
    features: np.ndarray  # (n, T, F)
    n_tiers: np.ndarray  # (n,)


def truncate(tr: Trace, tiers: int) -> Trace:
    """A longer plan's trace cut to its first ``tiers``: tiers never depend on how many follow
    (``plan_tiers``), so this is the shorter plan's trace, at no replay cost."""
    return Trace(tr.score[:, :tiers], tr.cost_add[:, :tiers], tr.calls_add[:, :tiers], tr.top_add[:, :tiers],
                 tr.features[:, :tiers], np.minimum(tr.n_tiers, tiers))


def trace_plan(d: EscalationInputs, plan: CascadePlan, top: int) -> Trace:
    n, T, F = len(d), plan.max_tiers, len(FEATURES)
    out = Trace(np.zeros((n, T)), np.zeros((n, T)), np.zeros((n, T)), np.zeros((n, T), dtype=bool), np.zeros((n, T, F)), np.zeros(n, dtype=int))
    truth = np.nan_to_num(d.scores, nan=0.0)
    for i in range(n):
        tiers = plan_tiers(d.quality[i], None if d.cost_norm is None else d.cost_norm[i], plan)
        called: list[int] = []
        for t in range(T):
            tier = tiers[t] if t < len(tiers) else []
            called += tier
            tl = tally(called, d.answers[i], d.quality[i], plan.merge)
            out.score[i, t] = truth[i, tl.winner]
            out.cost_add[i, t] = d.cost[i, tier].sum() if tier else 0.0
            out.calls_add[i, t] = len(tier)
            out.top_add[i, t] = top in tier
            out.features[i, t] = tally_features(tl, called, d.quality[i], lengths=None if d.lengths is None else d.lengths[i],
                                                logprob=None if d.logprobs is None else float(d.logprobs[i, tl.winner]))
        out.n_tiers[i] = min(len(tiers), T)
    return out


def stop_at(conf: np.ndarray, threshold: float, n_tiers: np.ndarray) -> np.ndarray:
    """Index of the tier where each row stops: the first whose confidence clears the threshold."""
    T = conf.shape[1]
    ok = conf >= threshold
    ok[np.arange(len(conf)), np.maximum(n_tiers - 1, 0)] = True  # the last tier always answers
    ok[:, T - 1] = True
    return ok.argmax(axis=1)


def auroc(score: np.ndarray, right: np.ndarray) -> float:
    """How well a confidence separates right from wrong answers; nan when one class is empty."""
    right = np.asarray(right, dtype=bool)
    return float(roc_auc_score(right, score)) if 0 < right.sum() < len(right) else float("nan")


def _outcome(tr: Trace, stop: np.ndarray) -> dict[str, np.ndarray]:
    rows = np.arange(len(stop))
    upto = np.arange(tr.score.shape[1])[None, :] <= stop[:, None]
    return {
        "score": tr.score[rows, stop], "cost": (tr.cost_add * upto).sum(axis=1), "calls": (tr.calls_add * upto).sum(axis=1),
        "escalated": stop > 0, "top": (tr.top_add & upto).any(axis=1),
    }


def _learned_oof(train: Trace, folds: np.ndarray, learner: str) -> np.ndarray:
    """Out-of-fold P(correct) on the training rows after every tier but the last, which always
    answers (1.0 there: no threshold reads it)."""
    oof = np.ones(train.score.shape)
    for t in range(train.score.shape[1] - 1):
        X, y = train.features[:, t], train.score[:, t]
        for f in np.unique(folds):
            m = folds == f
            oof[m, t] = LEARNERS[learner]().fit(X[~m], y[~m]).predict_proba(X[m])
    return oof


def _learned_models(train: Trace, learner: str, tiers: int | None = None) -> list[Confidence]:
    """Per tier (the first ``tiers``), the model fitted on every training row: what test is
    scored with and a dial deploys."""
    T = train.score.shape[1] if tiers is None else tiers
    return [LEARNERS[learner]().fit(train.features[:, t], train.score[:, t]) for t in range(T)]


def _learned_confidences(traces: dict[CascadePlan, tuple[Trace, ...]], folds: np.ndarray,
                         learner: str) -> dict[CascadePlan, tuple[np.ndarray, np.ndarray | None]]:
    """One learner's confidence per plan: out-of-fold on train and, where the plan has a test
    trace, from models fitted on every training row. A two-tier plan's is its three-tier
    sibling's first tier (the same rows and features, :func:`truncate`), so it is fitted once."""
    out: dict[CascadePlan, tuple[np.ndarray, np.ndarray | None]] = {}
    for plan in _longest_first(traces):
        sibling = _prefix_of(plan, out)
        if sibling is not None:
            c_tr, c_te = sibling
            T = plan.max_tiers
            out[plan] = (_last_accepts(c_tr[:, :T]), None if c_te is None else _last_accepts(c_te[:, :T]))
            continue
        tr, *test = traces[plan]
        te = None
        if test:
            te = np.ones(test[0].score.shape)
            for t, model in enumerate(_learned_models(tr, learner, tiers=tr.score.shape[1] - 1)):
                te[:, t] = model.predict_proba(test[0].features[:, t])
        out[plan] = (_learned_oof(tr, folds, learner), te)
    return {plan: out[plan] for plan in traces}


def _last_accepts(conf: np.ndarray) -> np.ndarray:
    conf = conf.copy()
    conf[:, -1] = 1.0
    return conf


def _signal_confidence(signal: str, tr: Trace) -> np.ndarray:
    """A fixed signal's value after each tier, ``(n, T)`` (every signal but ``learned``)."""
    return np.stack([signal_value(signal, tr.features[:, t]) for t in range(tr.score.shape[1])], axis=1)


def _scored(signal: str, traces: dict[CascadePlan, tuple[Trace, ...]],
            folds: np.ndarray) -> Iterator[tuple[CascadePlan, str | None, np.ndarray, np.ndarray | None]]:
    """The candidate settings of one signal, each with its confidence after every tier on train
    (out-of-fold for ``learned``) and on test where traced: every usable plan, and for
    ``learned`` every plan under each learner (the learner is chosen with plan and threshold)."""
    if signal == "learned":
        for learner in LEARNERS:
            for plan, (c_tr, c_te) in _learned_confidences(traces, folds, learner).items():
                yield plan, learner, c_tr, c_te
        return
    for plan, (tr, *test) in traces.items():
        if _usable(signal, plan):
            yield plan, None, _signal_confidence(signal, tr), _signal_confidence(signal, test[0]) if test else None


def _summary(o: dict[str, np.ndarray]) -> dict[str, float]:
    acc, cost = float(o["score"].mean()), float(o["cost"].mean())
    return {
        "accuracy": acc, "mean_cost": cost, "cost_of_pass": cost / acc if acc > 0 else float("inf"),
        "escalation_rate": float(np.mean(o["escalated"])), "calls_per_query": float(o["calls"].mean()),
        "top_model_share": float(np.mean(o["top"])),
    }


def _fixed(d: EscalationInputs, cols: list[int], top: int, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Call ``cols`` on every row and vote (weights: train accuracy)."""
    n = len(d)
    score = np.array([np.nan_to_num(d.scores[i, tally(cols, d.answers[i], weights).winner]) for i in range(n)])
    return {"score": score, "cost": d.cost[:, cols].sum(axis=1), "calls": np.full(n, len(cols)),
            "escalated": np.zeros(n, dtype=bool), "top": np.full(n, top in cols)}


def _agree_else_strongest(d: EscalationInputs, pair: list[int], strong: int) -> dict[str, np.ndarray]:
    a, b = pair
    agree = np.array([d.answers[i][a] is not None and d.answers[i][a] == d.answers[i][b] for i in range(len(d))])
    truth = np.nan_to_num(d.scores, nan=0.0)
    return {"score": np.where(agree, truth[:, a], truth[:, strong]), "cost": d.cost[:, pair].sum(axis=1) + ~agree * d.cost[:, strong],
            "calls": 2 + (~agree).astype(float), "escalated": ~agree, "top": ~agree | (strong in pair)}


def _single(d: EscalationInputs, pick: np.ndarray, top: int) -> dict[str, np.ndarray]:
    rows = np.arange(len(d))
    return {"score": np.nan_to_num(d.scores[rows, pick]), "cost": d.cost[rows, pick], "calls": np.ones(len(d)),
            "escalated": np.zeros(len(d), dtype=bool), "top": pick == top}


def _dataset_oracle(train: EscalationInputs, test: EscalationInputs) -> np.ndarray:
    """Best model per task chosen on train (LLMRouterBench's Dataset Oracle), applied by the true task."""
    truth = np.nan_to_num(train.scores, nan=0.0)
    overall = int(np.lexsort((train.cost.mean(axis=0), -truth.mean(axis=0)))[0])
    best: dict[str | None, int] = {}
    tasks = np.array([t or "" for t in train.tasks], dtype=object)
    for t in set(tasks.tolist()):
        m = tasks == t
        best[t] = int(np.lexsort((train.cost[m].mean(axis=0), -truth[m].mean(axis=0)))[0])
    return np.array([best.get(t or "", overall) for t in test.tasks])


class OperatingPoint(NamedTuple):
    """A (plan, threshold) setting and its out-of-fold result on the training rows."""

    accuracy: float
    se: float  # fold standard error of the accuracy
    cost: float
    plan: CascadePlan
    threshold: float
    learner: str | None = None  # the learned signal's model class (``signals.LEARNERS``)


def operating_points(points: list[OperatingPoint], single_acc: float, single_cost: float) -> dict[str, OperatingPoint]:
    """The two settings reported per signal. ``match``: the cheapest reaching best single's
    accuracy (else the most accurate). ``beat``: within best single's cost, the cheapest that
    gives up no accuracy CV can see against the most accurate there (:func:`free_accuracy`, the
    default cost weight's rule: 40 plans x 41 thresholds leave many settings a hair apart, where
    the extra cost buys accuracy CV cannot tell from noise); else the cheapest setting."""
    match = [p for p in points if p.accuracy >= single_acc]
    beat = [p for p in points if p.cost <= single_cost]
    return {
        "match": min(match, key=lambda p: (p.cost, -p.accuracy)) if match else max(points, key=lambda p: p.accuracy),
        "beat": beat[free_accuracy([p.accuracy for p in beat], [p.se for p in beat], [p.cost for p in beat])]
        if beat else min(points, key=lambda p: p.cost),
    }


def _ranking(d: EscalationInputs) -> list[int]:
    """Experts by accuracy on ``d`` (ties: the cheaper); the first is best single."""
    return [int(j) for j in np.lexsort((d.cost.mean(axis=0), -np.nan_to_num(d.scores, nan=0.0).mean(axis=0)))]


def _folds(n: int, cv: int, seed: int) -> np.ndarray:
    folds = np.zeros(n, dtype=int)
    for f, (_, va) in enumerate(KFold(n_splits=min(cv, n), shuffle=True, random_state=seed).split(np.zeros(n))):
        folds[va] = f
    return folds


def _longest_first(plans: Iterable[CascadePlan]) -> list[CascadePlan]:
    return sorted(plans, key=lambda p: -p.max_tiers)


def _prefix_of(plan: CascadePlan, done: dict[CascadePlan, V]) -> V | None:
    """What was computed for the three-tier plan whose first tiers ``plan`` is (None for a
    three-tier plan, or one not computed yet): tiers never depend on how many follow."""
    return done.get(replace(plan, max_tiers=3)) if plan.max_tiers < 3 else None


def _replay(plans: tuple[CascadePlan, ...], splits: tuple[EscalationInputs, ...], top: int,
            on_plan: Callable[[], None] | None) -> dict[CascadePlan, tuple[Trace, ...]]:
    """Every plan's trace on every split, in the grid's order (ties among settings resolve by it).
    Three-tier plans are replayed first: a shorter plan's trace is their prefix."""
    traces: dict[CascadePlan, tuple[Trace, ...]] = {}
    for plan in _longest_first(plans):
        longer = _prefix_of(plan, traces)
        if longer is not None:
            traces[plan] = tuple(truncate(tr, plan.max_tiers) for tr in longer)
        else:
            traces[plan] = tuple(trace_plan(d, plan, top) for d in splits)
        if on_plan is not None:
            on_plan()
    return {plan: traces[plan] for plan in plans}


def _points(tr: Trace, c_tr: np.ndarray, plan: CascadePlan, folds: np.ndarray, learner: str | None = None) -> list[OperatingPoint]:
    """One plan's out-of-fold result on the training rows at every threshold."""
    points = []
    for th in THRESHOLDS:
        o = _outcome(tr, stop_at(c_tr, th, tr.n_tiers))
        acc, se = fold_mean_and_se(o["score"], folds)
        points.append(OperatingPoint(acc, se, float(o["cost"].mean()), plan, float(th), learner))
    return points


def _usable(signal: str, plan: CascadePlan) -> bool:
    return not (signal == "agreement" and plan.probes < 2)  # one answer agrees with itself


def _plan_dict(plan: CascadePlan) -> dict[str, Any]:
    return {"probes": plan.probes, "probe_cost_weight": plan.probe_cost_weight, "max_tiers": plan.max_tiers, "merge": plan.merge}


LIVE_SIGNALS = ("agreement", "router", "posterior", "logprob", "learned")
"""The signals the gateway's cascade reads; ``logprob`` is tuned only on data that records
log-probabilities, and ``learned`` runs only through a dial (its setting carries the fitted
per-tier models)."""


def _candidates(signal: str, traces: dict[CascadePlan, tuple[Trace, ...]],
                folds: np.ndarray) -> tuple[list[OperatingPoint], dict[tuple[CascadePlan, str | None], np.ndarray | None]]:
    """Every setting of one signal with its out-of-fold result on the training rows, and each
    (plan, learner)'s confidence on test where traced."""
    points: list[OperatingPoint] = []
    confs: dict[tuple[CascadePlan, str | None], np.ndarray | None] = {}
    for plan, learner, c_tr, c_te in _scored(signal, traces, folds):
        confs[plan, learner] = c_te
        points += _points(traces[plan][0], c_tr, plan, folds, learner)
    return points, confs


def tune_escalation(train: EscalationInputs, *, signals: tuple[str, ...] = LIVE_SIGNALS, cv: int = 5, seed: int = 0,
                    plans: tuple[CascadePlan, ...] = PLANS, on_plan: Callable[[], None] | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """Per live signal, the "match" and "beat" settings (plan and threshold) chosen on the
    training rows exactly as :func:`evaluate_escalation` chooses them, with their train-CV
    accuracy and cost: what a request's ``escalation.dial`` deploys. A ``learned`` setting also
    names its ``learner`` and carries its per-tier models fitted on every training row (``model``,
    a :class:`~orchestrator.escalation.signals.TierModels`)."""
    top = _ranking(train)[0]
    truth = np.nan_to_num(train.scores, nan=0.0)
    single_acc, single_cost = float(truth[:, top].mean()), float(train.cost[:, top].mean())
    folds = _folds(len(train), cv, seed)
    traces = _replay(plans, (train,), top, on_plan)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    skip = unmeasurable(train)
    for signal in signals:
        if signal in skip:
            continue
        points, _ = _candidates(signal, traces, folds)
        if not points:
            continue
        out[signal] = {}
        for goal, pt in operating_points(points, single_acc, single_cost).items():
            setting = {**_plan_dict(pt.plan), "threshold": pt.threshold, "train_accuracy": pt.accuracy, "train_mean_cost": pt.cost}
            if signal == "learned":
                assert pt.learner is not None
                setting["learner"] = pt.learner
                setting["model"] = TierModels(pt.learner, tuple(_learned_models(traces[pt.plan][0], pt.learner)),
                                              train.length_unit, train.logprobs is not None)
            out[signal][goal] = setting
    return out


def evaluate_escalation(train: EscalationInputs, test: EscalationInputs, experts: list[str], *,
                        router_pick: np.ndarray, signals: tuple[str, ...] = ("agreement", "router", "posterior", "learned"),
                        cv: int = 5, seed: int = 0, plans: tuple[CascadePlan, ...] = PLANS,
                        on_plan: Callable[[], None] | None = None) -> dict:
    """The escalation table: baselines and, per signal, its "match" and "beat" operating points.
    ``on_plan`` is called after each plan is replayed (a progress bar's advance)."""
    truth_tr = np.nan_to_num(train.scores, nan=0.0)
    acc_tr, cost_tr = truth_tr.mean(axis=0), train.cost.mean(axis=0)
    ranking = _ranking(train)
    top = ranking[0]
    single_acc, single_cost = float(acc_tr[top]), float(cost_tr[top])
    trio = ranking[:3]
    pair = sorted(ranking[1:3], key=lambda j: cost_tr[j]) if len(ranking) >= 3 else []
    oracle = oracle_choice(test.scores, test.cost)  # the eval report's oracle: graded scores count, not only 1.0
    answered = train.has_answers and test.has_answers
    table: dict[str, dict] = {
        "best_single": {**_summary(_single(test, np.full(len(test), top), top)), "description": f"best single on train ({experts[top]})"},
        "vote_top3": {**_summary(_fixed(test, trio, top, acc_tr)), "description": "majority vote of the 3 best on train (" + ", ".join(experts[j] for j in trio) + ")"},
        "router": {**_summary(_single(test, router_pick, top)), "description": "the router alone (k=1, its default cost weight)"},
        "dataset_oracle": {**_summary(_single(test, _dataset_oracle(train, test), top)), "description": "best model per task, chosen on train (reads the true task)"},
        "oracle": {**_summary(_single(test, oracle, top)), "description": "per-query oracle: cheapest expert with the best score (reads the scores)"},
    }
    if not answered:
        del table["vote_top3"]
    if len(pair) == 2 and answered:
        table["agree_else_strongest"] = {**_summary(_agree_else_strongest(test, pair, top)),
                                         "description": f"fixed cascade: {experts[pair[0]]} and {experts[pair[1]]} agree, else {experts[top]}"}
    folds = _folds(len(train), cv, seed)
    traces = _replay(plans, (train, test), top, on_plan)
    curves: dict[str, list[dict[str, float]]] = {}
    separation: dict[str, float] = {}  # per signal: AUROC of its first-tier confidence for the first tier being right (test)
    skip = unmeasurable(train, test)
    for signal in signals:
        if signal in skip:
            continue
        points, confs = _candidates(signal, traces, folds)
        if not points:
            continue
        for goal, (a, _, c, plan, th, learner) in operating_points(points, single_acc, single_cost).items():
            te, conf = traces[plan][1], confs[plan, learner]
            o = _outcome(te, stop_at(conf, th, te.n_tiers))
            model = "" if learner is None else f" ({learner})"
            table[f"cascade_{signal}_{goal}"] = {
                **_summary(o), "threshold": th, "train_accuracy": a, "train_mean_cost": c,
                "plan": {**_plan_dict(plan), "mid_cost_weight": plan.mid_cost_weight}, **({"learner": learner} if learner else {}),
                "description": f"cascade on {signal}{model} confidence, {'cheapest plan matching best single' if goal == 'match' else 'most accurate plan within best single cost (near-ties: the cheaper)'} on train CV",
            }
            if goal == "beat":
                separation[signal] = auroc(conf[:, 0], te.score[:, 0] >= 0.5)
                curves[signal] = [{"threshold": float(t), **{k: v for k, v in _summary(_outcome(te, stop_at(conf, t, te.n_tiers))).items() if k in ("accuracy", "mean_cost", "escalation_rate")}}
                                  for t in THRESHOLDS[::4]]
    return {"top_model": experts[top], "train_best_single": {"accuracy": single_acc, "mean_cost": single_cost},
            "policies": table, "curves": curves, "first_tier_auroc": separation,
            "notes": ([] if train.logprobs is not None else ["no token log-probabilities are recorded in this data: the logprob signal is measured with the simulator (bench/bench_escalation.py --simulated-logprobs)"])
            + ([] if answered else [NO_ANSWERS_NOTE])}
