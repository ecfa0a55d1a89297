"""The VALUES of the simulator's token logprobs, apart from their wire shape (``logprobs.py``).

One function, :func:`token_logprobs`, so a richer model (e.g. confidence that depends on
whether the replayed answer is right) can replace it without touching the wire format.
Today the values are deterministic in the token and its position: the sampled token gets a
logprob in [-1.5, -0.01]; the alternatives follow, each less likely than the one before.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

__all__ = ["TokenLogprob", "token_logprobs"]


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: list[tuple[str, float]]  # the top alternatives, most likely first (the sampled token among them)


def _unit(*parts: object) -> float:
    return (zlib.crc32("\x1f".join(map(str, parts)).encode()) % 10_000) / 10_000


def token_logprobs(tokens: list[str], top_n: int, *, start: int = 0, seed: int = 0) -> list[TokenLogprob]:
    """Logprobs of ``tokens`` (the sampled ones, at positions ``start``...) with ``top_n`` alternatives each."""
    out = []
    for i, token in enumerate(tokens, start=start):
        chosen = -(0.01 + 1.49 * _unit(seed, i, token))
        top = [(token, chosen)]
        for j in range(1, top_n):
            top.append((f"{token.strip() or '_'}~{j}", chosen - 0.5 * j - _unit(seed, i, token, j)))
        out.append(TokenLogprob(token, round(chosen, 6), [(t, round(v, 6)) for t, v in top[:top_n]]))
    return out
