"""Per-request retrieval: gate, pick the index, retrieve (once or iteratively), build the prompt.

:class:`Retriever` is what the pipeline's ``retrieval_gate`` node calls. It never fails a
request: a store that is down, a missing index or a broken gate artifact means the request is
answered without retrieval and the outcome says why (the trace shows it).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.retrieval.errors import RetrievalError
from orchestrator.retrieval.gate import GateDecision, decide
from orchestrator.retrieval.index import RetrievalIndex, index_names, open_index
from orchestrator.retrieval.prompt import augment_messages, sources
from orchestrator.retrieval.store import Hit

__all__ = ["RetrievalOutcome", "Retriever", "draft_uncertainty"]

CallFn = Callable[[str, list[dict[str, Any]], dict[str, Any]], Awaitable[Any]]


@dataclass
class RetrievalOutcome:
    mode: str
    strategy: str = "no_retrieval"
    gate: GateDecision | None = None
    index: str | None = None
    hits: list[Hit] = field(default_factory=list)
    steps: int = 0
    messages: list[dict[str, Any]] | None = None
    """The conversation with passages in the last user turn (None: unchanged)."""
    draft: Any = None
    """The first expert's draft, kept as its answer when the gate decided not to retrieve."""
    error: str | None = None
    reason: str = ""
    latency_s: float = 0.0

    @property
    def retrieved(self) -> bool:
        return bool(self.hits)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "strategy": self.strategy, "retrieved": self.retrieved, "steps": self.steps}
        if self.gate is not None:
            out["gate"] = self.gate.to_dict()
            out["probability"] = round(1.0 - self.gate.p_correct.get("no_retrieval", 0.0), 4) if self.gate.p_correct else None
        if self.index:
            out["index"] = self.index
        if self.hits:
            out["passages"] = [{**s, "text": h.text[:300]} for s, h in zip(sources(self.hits), self.hits)]
            out["sources"] = sources(self.hits)
        if self.draft is not None:
            out["draft_reused"] = True
        if self.error:
            out.update(degraded=True, error=self.error)
        if self.reason:
            out["reason"] = self.reason
        out["retrieval_ms"] = round(self.latency_s * 1000, 3)
        return out


def draft_uncertainty(completion: Any) -> tuple[float, float | None] | None:
    """(perplexity, mean top-k entropy or None) of a completion's token log-probabilities, or None
    when the expert returned none (then the gate decides from the query alone)."""
    lp = getattr(completion, "logprobs", None)
    if lp is None:
        return None
    content = lp.get("content") if isinstance(lp, dict) else getattr(lp, "content", lp)
    if not content:
        return None

    def get(item: Any, key: str) -> Any:
        return item.get(key) if isinstance(item, dict) else getattr(item, key, None)

    logprobs = [float(get(t, "logprob")) for t in content if get(t, "logprob") is not None]
    logprobs = [x for x in logprobs if math.isfinite(x)]
    if not logprobs:
        return None
    perplexity = float(math.exp(-sum(logprobs) / len(logprobs)))
    entropies = []
    for t in content:
        tops = get(t, "top_logprobs") or []
        ps = np.exp([float(get(x, "logprob")) for x in tops if get(x, "logprob") is not None])
        if len(ps):
            ps = ps / ps.sum()
            entropies.append(float(-(ps * np.log(np.clip(ps, 1e-12, 1))).sum()))
    return perplexity, (float(np.mean(entropies)) if entropies else None)


class Retriever:
    """Retrieval for the pipeline, configured by experts.yaml's ``retrieval:`` section.

    Parameters
    ----------
    settings : ``RetrievalSettings``.
    base : folder that relative paths in ``settings`` are relative to (the config file's).
    embedder : the MiniLM ``Embedder`` (default: the packaged one, loaded on first use).
    gate : a loaded gate artifact (``replay.load_gate``); default: ``settings.gate`` if set.
    """

    def __init__(self, settings: Any, *, base: Path | None = None, embedder: Any = None, gate: dict[str, Any] | None = None):
        self.settings = settings
        self.base = base
        self._embedder = embedder
        self._gate = gate
        self._gate_error: str | None = None
        self._indices: dict[str, RetrievalIndex] = {}

    @classmethod
    def from_config(cls, config: Any) -> Retriever:
        base = Path(config.source).parent if config.source else None
        return cls(config.retrieval, base=base)

    # ------------------------------------------------------------------ lazy parts

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from orchestrator.embeddings import Embedder

            self._embedder = Embedder()
        return self._embedder

    def gate(self) -> dict[str, Any] | None:
        if self._gate is None and self.settings.gate and self._gate_error is None:
            from orchestrator.retrieval.replay import load_gate

            path = Path(self.settings.gate)
            if not path.is_absolute() and self.base is not None:
                path = self.base / path
            try:
                self._gate = load_gate(path)
            except (RetrievalError, OSError, ValueError) as exc:
                self._gate_error = str(exc)
        return self._gate

    def index(self, name: str) -> RetrievalIndex:
        if name not in self._indices:
            self._indices[name] = open_index(self.settings, name, self.embedder, base=self.base)
        return self._indices[name]

    def choose_index(self, vector: np.ndarray, requested: str | None) -> str:
        """The requested index, else the configured one, else the one whose centroid is closest to the query."""
        if requested or self.settings.index:
            return requested or self.settings.index
        names = list(self.settings.indices) or index_names(self.settings, base=self.base)
        if not names:
            raise RetrievalError("no index to retrieve from (ingest one with `orchestrator ingest PATH --index NAME`)")
        if len(names) == 1:
            return names[0]
        scored = []
        for name in names:
            c = self.index(name).centroid()
            scored.append((float(vector @ c) if c is not None else -2.0, name))
        return max(scored)[1]

    def _search(self, name: str, vector: np.ndarray, skip: frozenset[tuple[str, int]] = frozenset()) -> list[Hit]:
        """The ``top_k`` best passages not in ``skip`` (a later step asks for passages it has not seen)."""
        hits = self.index(name).search_vector(vector, self.settings.top_k + len(skip))
        return [h for h in hits if h.score >= self.settings.min_score and (h.source, h.ordinal) not in skip][: self.settings.top_k]

    # ------------------------------------------------------------------ per request

    async def run(
        self,
        query: str,
        messages: list[dict[str, Any]],
        *,
        mode: str | None = None,
        index: str | None = None,
        decision: Any = None,
        call: CallFn | None = None,
        params: dict[str, Any] | None = None,
    ) -> RetrievalOutcome:
        t0 = time.perf_counter()
        mode = mode or self.settings.mode
        outcome = RetrievalOutcome(mode=mode)
        try:
            await self._run(outcome, query, messages, index=index, decision=decision, call=call, params=params or {})
        except RetrievalError as exc:
            # The store is down, the index is missing...: answer without retrieval, and say so.
            outcome.error, outcome.hits, outcome.messages = str(exc), [], None
        outcome.latency_s = time.perf_counter() - t0
        return outcome

    async def _run(self, outcome: RetrievalOutcome, query: str, messages: list[dict[str, Any]], *, index: str | None, decision: Any, call: CallFn | None, params: dict[str, Any]) -> None:
        if outcome.mode == "never":
            outcome.reason = "retrieval: never"
            return
        from orchestrator.router.text import query_views

        # The router's view of the prompt (head + tail of a long one): what the gate was trained on.
        vector = (await asyncio.to_thread(self.embedder.encode, query_views([query])))[0]
        expert = decision.chosen[0] if decision is not None and getattr(decision, "chosen", None) else None
        if outcome.mode == "always":
            outcome.strategy, outcome.reason = "single", "retrieval: always"
        else:
            await self._gate_decision(outcome, vector, messages, decision, expert, call, params)
            if outcome.strategy == "no_retrieval":
                return
        name = await asyncio.to_thread(self.choose_index, vector, index)
        outcome.index = name
        hits = await asyncio.to_thread(self._search, name, vector)
        outcome.steps = 1
        if outcome.strategy == "multi" and call is not None and expert is not None:
            hits = await self._iterate(outcome, name, query, messages, hits, expert, call, params)
        outcome.hits = hits
        if hits:
            outcome.messages = augment_messages(messages, query, hits, step=outcome.steps)

    async def _gate_decision(self, outcome: RetrievalOutcome, vector: np.ndarray, messages: list[dict[str, Any]], decision: Any, expert: str | None, call: CallFn | None, params: dict[str, Any]) -> None:
        gate = self.gate()
        if gate is None:
            outcome.strategy = "single"
            outcome.reason = f"no usable gate ({self._gate_error}): auto retrieves" if self._gate_error else "no gate trained: auto retrieves"
            return
        quality = None
        if decision is not None and expert is not None:
            ranked = {e.name: e for e in getattr(decision, "experts", [])}
            q = getattr(ranked.get(expert), "predicted_quality", None)
            quality = float(q) if q is not None else None
        perplexity = None
        if self.settings.draft and call is not None and expert is not None and gate.get("draft_gate") is not None:
            # The draft is the expert's real no-retrieval answer: kept if the gate trusts it.
            draft = await call(expert, messages, {**params, "logprobs": True, "top_logprobs": 5})
            unc = draft_uncertainty(draft)
            if unc is not None:
                perplexity = unc[0]
            outcome.draft = draft
        outcome.gate = decide(
            gate["query_gate"], vector, draft_gate=gate.get("draft_gate"), draft_perplexity=perplexity,
            expert_quality=quality, weak_expert_boost=self.settings.weak_expert_boost, allow_multi=self.settings.max_steps > 1,
        )
        outcome.strategy = outcome.gate.strategy
        if outcome.strategy != "no_retrieval":
            outcome.draft = None  # an unsure draft is discarded: the experts answer with the passages

    async def _iterate(self, outcome: RetrievalOutcome, name: str, query: str, messages: list[dict[str, Any]], hits: list[Hit], expert: str, call: CallFn, params: dict[str, Any]) -> list[Hit]:
        """Multi-step: reason over what was found, retrieve again with that reasoning, up to ``max_steps``;
        stop early when a step finds nothing new."""
        seen = {(h.source, h.ordinal) for h in hits}
        cap = self.settings.top_k * self.settings.max_steps
        for step in range(2, self.settings.max_steps + 1):
            reply = await call(expert, augment_messages(messages, query, hits, step=step - 1), params)
            follow_up = f"{query}\n{(reply.text or '')[-600:]}"
            vector = (await asyncio.to_thread(self.embedder.encode, [follow_up]))[0]
            new = await asyncio.to_thread(self._search, name, vector, frozenset(seen))
            outcome.steps = step
            if not new:
                break
            seen.update((h.source, h.ordinal) for h in new)
            hits = (hits + new)[:cap]
        return hits
