"""Symbolic-MoE expert profiles: per skill, each expert's wins minus losses (arXiv 2503.05641 §3).

The paper's integer rule: for every skill of a validation question, +1 if the expert answered
correctly and -1 if not. A fractional score ``s`` counts as ``s`` of a win and ``1 - s`` of a
loss, which equals the integer rule on 0/1 scores. We also keep ``n_seen`` and a
Laplace-smoothed net win rate ``(wins - losses) / (n + 2)`` in (-1, 1), which is comparable
across skills of very different sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SkillProfiles", "global_competence", "local_suitability", "recruiter_weights"]


@dataclass
class SkillProfiles:
    skills: list[str]
    experts: list[str]
    net: np.ndarray  # (n_skills, n_experts) wins - losses
    n_seen: np.ndarray  # (n_skills,) questions carrying the skill

    @classmethod
    def fit(cls, row_skills: list[list[str]], scores: np.ndarray, experts: list[str]) -> SkillProfiles:
        skills = sorted({s for ss in row_skills for s in ss})
        index = {s: i for i, s in enumerate(skills)}
        hot = np.zeros((len(row_skills), len(skills)))
        for r, ss in enumerate(row_skills):
            for s in set(ss):
                hot[r, index[s]] = 1.0
        signed = 2.0 * np.nan_to_num(scores, nan=0.5) - 1.0  # +1 correct, -1 wrong, 0 unknown
        return cls(skills=skills, experts=list(experts), net=hot.T @ signed, n_seen=hot.sum(axis=0))

    @property
    def rate(self) -> np.ndarray:
        """Laplace-smoothed net win rate per (skill, expert), in (-1, 1)."""
        return self.net / (self.n_seen[:, None] + 2.0)

    def multi_hot(self, query_skills: list[list[str]]) -> np.ndarray:
        index = {s: i for i, s in enumerate(self.skills)}
        hot = np.zeros((len(query_skills), len(self.skills)))
        for r, ss in enumerate(query_skills):
            for s in set(ss):
                j = index.get(s)
                if j is not None:
                    hot[r, j] = 1.0
        return hot

    def to_yaml_dict(self) -> dict[str, dict[str, float]]:
        """``{expert: {skill: rate}}``, the reviewable form pasted into experts.yaml's ``profile``."""
        return {
            e: {s: round(float(self.rate[i, j]), 4) for i, s in enumerate(self.skills)} for j, e in enumerate(self.experts)
        }


def local_suitability(profiles: SkillProfiles, hot: np.ndarray) -> np.ndarray:
    """S(m, q) = sum over the query's skills of expert m's integer profile score. ``(n, m)``."""
    return hot @ profiles.net


def global_competence(profiles: SkillProfiles) -> np.ndarray:
    """γ as in the paper's code: G_m = Σ_skill P_m; shift to ≥ 1 if any is negative; square; normalise."""
    g = profiles.net.sum(axis=0).astype(float)
    if g.min() < 0:
        g = g - g.min() + 1.0
    g = g**2  # G^(1/T) with T = 0.5
    total = g.sum()
    return g / total if total > 0 else np.full_like(g, 1.0 / len(g))


def recruiter_weights(profiles: SkillProfiles, hot: np.ndarray) -> np.ndarray:
    """w = S · γ with the paper's rules: only experts with S > 0 are candidates; if none is
    positive, shift S by -min + 1; a query with no known skill gets uniform weights. ``(n, m)``."""
    s = local_suitability(profiles, hot)
    gamma = global_competence(profiles)
    w = np.zeros_like(s)
    for i in range(s.shape[0]):
        row = s[i]
        if not hot[i].any():
            w[i] = 1.0
            continue
        if (row > 0).any():
            w[i] = np.where(row > 0, row, 0.0) * gamma
        else:
            w[i] = (row - row.min() + 1.0) * gamma
    total = w.sum(axis=1, keepdims=True)
    return w / np.where(total > 0, total, 1.0)
