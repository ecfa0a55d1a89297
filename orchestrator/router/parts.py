"""The learned pieces of the two-level router and the per-query signals they produce.

Fitting and scoring live here (not in ``two_level``) because cross-validation needs exactly
the same code on each fold as the final fit uses on all rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestrator.router.category import CategoryClassifier, normalised_entropy
from orchestrator.router.profiles import SkillProfiles
from orchestrator.router.quality import ExpertLogistic, NeighbourScores, expert_means
from orchestrator.router.skills import SkillTagger

__all__ = ["Parts", "Signals", "category_label", "fit_parts", "rank_experts", "signals"]

CATEGORY_SMOOTHING = 5.0  # pseudo-rows of the overall mean in each category's accuracy


def category_label(category: str | None, task: str | None, default: str) -> str:
    return category or task or default


@dataclass
class Parts:
    knn: NeighbourScores
    logistic: dict[float, ExpertLogistic]
    category: CategoryClassifier
    category_table: np.ndarray  # (n_classes, m): smoothed mean score per category
    overall: np.ndarray  # (m,): smoothed mean score overall (the fallback category's row)
    tagger: SkillTagger
    profiles: SkillProfiles
    # The finest label the data has (``task``), predicted from the query: its smoothed score
    # table is the prior instance-level scorers are shrunk toward. None without task labels.
    task: CategoryClassifier | None = None
    task_table: np.ndarray | None = None


@dataclass
class Signals:
    """Everything the router knows about a batch of queries, before blending."""

    category_probs: np.ndarray  # (n, n_classes), calibrated
    fallback: np.ndarray  # (n,) bool: entropy above threshold
    entropy: np.ndarray  # (n,)
    neighbours: np.ndarray  # (n, k_max) nearest training rows
    knn: dict[int, np.ndarray]  # k -> (n, m): plain mean score of the k nearest training rows
    logistic: dict[float, np.ndarray]  # C -> (n, m)
    category_prior: np.ndarray  # (n, m)
    skill_quality: np.ndarray  # (n, m)
    skill_hot: np.ndarray  # (n, n_skills)
    skills: list[list[str]]
    cost: np.ndarray | None  # (n, m) expected cost per call
    task_prior: np.ndarray | None = None  # (n, m): p(task | x) @ per-task accuracy (category prior without tasks)

    @property
    def prior(self) -> np.ndarray:
        """The finest-label prior: task when the data has tasks, else category."""
        return self.category_prior if self.task_prior is None else self.task_prior


def rank_experts(values: np.ndarray, scores: np.ndarray, expert_cost: np.ndarray | None) -> list[int]:
    """Experts best first by ``values``; ties: higher mean recorded score on ``scores``, then cheaper."""
    overall = np.nan_to_num(scores, nan=0.0).mean(axis=0)
    cheap = expert_cost if expert_cost is not None else np.zeros(len(values))
    return [int(j) for j in np.lexsort((cheap, -np.round(overall, 9), -np.round(values, 9)))]


def _category_table(labels: list[str], classes: list[str], scores: np.ndarray, overall: np.ndarray) -> np.ndarray:
    s = np.nan_to_num(scores, nan=0.5)
    table = np.empty((len(classes), s.shape[1]))
    lab = np.asarray(labels, dtype=object)
    for i, c in enumerate(classes):
        rows = s[lab == c]
        table[i] = (rows.sum(axis=0) + CATEGORY_SMOOTHING * overall) / (len(rows) + CATEGORY_SMOOTHING)
    return table


def fit_parts(
    X: np.ndarray,
    scores: np.ndarray,
    costs: np.ndarray | None,
    labels: list[str],
    tasks: list[str | None],
    *,
    k_max: int,
    Cs: tuple[float, ...],
    category_C: float,
    extra_X: np.ndarray | None = None,
    extra_labels: list[str] | None = None,
    random_state: int = 0,
) -> Parts:
    """Fit every learned piece on one set of rows (``extra_*``: more category-labelled queries)."""
    overall = expert_means(scores)
    cat_X, cat_y = X, list(labels)
    if extra_X is not None and extra_labels:
        cat_X, cat_y = np.vstack([X, extra_X]), cat_y + list(extra_labels)
    category = CategoryClassifier(C=category_C, random_state=random_state).fit(cat_X, cat_y)
    tagger = SkillTagger(random_state=random_state).fit(X, labels, tasks)
    task = task_table = None
    task_labels = [t or "" for t in tasks]
    if len({t for t in task_labels if t}) > 1 and set(task_labels) != set(labels):
        task = CategoryClassifier(C=category_C, random_state=random_state).fit(X, task_labels)
        task_table = _category_table(task_labels, task.classes_, scores, overall)
    return Parts(
        knn=NeighbourScores(n_neighbors=k_max).fit(X, scores, costs),
        logistic={C: ExpertLogistic(C=C).fit(X, scores) for C in Cs},
        category=category,
        category_table=_category_table(labels, category.classes_, scores, overall),
        overall=overall,
        tagger=tagger,
        profiles=SkillProfiles.fit(tagger.train_skills(), scores, [str(j) for j in range(scores.shape[1])]),
        task=task,
        task_table=task_table,
    )


def signals(parts: Parts, X: np.ndarray, *, ks: tuple[int, ...], entropy_threshold: float) -> Signals:
    """Score a batch: category posterior (+ fallback), neighbours, learners, category prior, skills."""
    probs = parts.category.predict_proba(X)
    entropy = normalised_entropy(probs)
    fallback = entropy > entropy_threshold
    prior = np.where(fallback[:, None], parts.overall[None, :], probs @ parts.category_table)
    neighbours = parts.knn.neighbours(X, max(ks))
    classes = parts.category.classes_
    top = [None if fb else classes[int(j)] for fb, j in zip(fallback, probs.argmax(axis=1), strict=True)]
    task_prior, top_task = None, None
    if parts.task is not None and parts.task_table is not None:
        tprobs = parts.task.predict_proba(X)
        task_prior = np.where(fallback[:, None], prior, tprobs @ parts.task_table)
        top_task = [parts.task.classes_[int(j)] or None for j in tprobs.argmax(axis=1)]
    skills = parts.tagger.query_skills(X, neighbours, top, top_task)
    hot = parts.profiles.multi_hot(skills)
    # P(correct) per skill from the smoothed net win rate, averaged over the query's known skills.
    per_skill = (parts.profiles.rate + 1.0) / 2.0
    n_known = hot.sum(axis=1, keepdims=True)
    skill_q = np.where(n_known > 0, (hot @ per_skill) / np.maximum(n_known, 1.0), parts.overall[None, :])
    return Signals(
        category_probs=probs,
        fallback=fallback,
        entropy=entropy,
        neighbours=neighbours,
        knn={k: parts.knn.mean_from(neighbours, k) for k in ks},
        logistic={C: lr.predict(X) for C, lr in parts.logistic.items()},
        category_prior=prior,
        skill_quality=skill_q,
        skill_hot=hot,
        skills=skills,
        cost=parts.knn.cost_from(neighbours),
        task_prior=task_prior,
    )
