"""Token log-probabilities a simulated expert reports, consistent with what it replays.

vLLM returns per-token log-probabilities (``logprobs: true``); a cascade reads them as the
expert's confidence. Replayed answers know whether they were right, so their log-probabilities
follow it, with noise: a right answer is confident (answer tokens p ~ 0.6-0.99), a wrong one
less so (p ~ 0.15-0.85), so the two overlap as real models' do (confident mistakes exist). A
template answer (nothing recorded) sits in between. That one draw per answer is the only place
correctness enters: the reasoning tokens are a little surer than the answer and follow the same
draw. (Drawn independently per token from right/wrong ranges, their mean over a long answer
averaged the noise away and separated right from wrong almost perfectly, AUROC 0.99 instead of
the ~0.87 the answer-token ranges declare.) Values are deterministic per (seed, expert, prompt),
like the answers themselves.

This module owns only the *values* (and the alternatives ranked below each sampled token);
the wire shape (``choices[].logprobs``) lives in ``logprobs.py``.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

import numpy as np

__all__ = ["ANSWER_TOKENS", "TokenLogprob", "answer_probability_range", "token_entries", "token_logprobs"]

ANSWER_TOKENS = 4  # the closing "The answer is X." carries the answer's own confidence
_RIGHT, _WRONG, _UNKNOWN = (0.6, 0.99), (0.15, 0.85), (0.35, 0.95)
_REASONING_LIFT = 0.5  # reasoning tokens sit half-way between the answer's confidence and certainty


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: list[tuple[str, float]]  # the top alternatives, most likely first (the sampled token among them)


def answer_probability_range(correct: bool | None) -> tuple[float, float]:
    return _RIGHT if correct else _WRONG if correct is False else _UNKNOWN


def _rng(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def token_logprobs(n_tokens: int, correct: bool | None, *, seed: object = 0, expert: str = "", prompt: str = "") -> list[float]:
    """Log-probabilities of ``n_tokens`` generated tokens; the last ``ANSWER_TOKENS`` are the
    answer's. One draw of the answer's confidence per (expert, prompt), per-token jitter on top."""
    if n_tokens <= 0:
        return []
    rng = _rng(seed, expert, prompt, "logprobs")
    lo, hi = answer_probability_range(correct)
    answer_p = rng.uniform(lo, hi)
    n_answer = min(ANSWER_TOKENS, n_tokens)
    answer = np.clip(answer_p + rng.normal(0.0, 0.03, n_answer), 1e-4, 1.0)
    level = answer_p + _REASONING_LIFT * (1.0 - answer_p)
    reasoning = np.clip(level + rng.normal(0.0, 0.03, n_tokens - n_answer), 1e-4, 1.0)
    return [float(v) for v in np.log(np.concatenate([reasoning, answer]))]


def _unit(*parts: object) -> float:
    return (zlib.crc32("\x1f".join(map(str, parts)).encode()) % 10_000) / 10_000


def token_entries(tokens: list[str], values: list[float], top_n: int, *, start: int = 0, seed: int = 0) -> list[TokenLogprob]:
    """The sampled ``tokens`` (at positions ``start``...) with their ``values`` and ``top_n``
    alternatives each, every alternative less likely than the one before."""
    out = []
    for i, (token, chosen) in enumerate(zip(tokens, values, strict=True), start=start):
        top = [(token, chosen)]
        for j in range(1, top_n):
            top.append((f"{token.strip() or '_'}~{j}", chosen - 0.5 * j - _unit(seed, i, token, j)))
        out.append(TokenLogprob(token, round(chosen, 6), [(t, round(v, 6)) for t, v in top[:top_n]]))
    return out
