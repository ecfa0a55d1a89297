"""Du et al. (2023) multi-agent debate: each agent reads the others' latest solutions and
revises its own, round after round, until they agree or the round cap; then a majority vote.

Round 0 is the pipeline's dispatch (the experts already answered independently), so only the
revision rounds cost anything here. The "probability" of the outcome is its vote share.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from typing import Any

from orchestrator.aggregation import extract_answer, final_section
from orchestrator.config import Price, VerificationSettings
from orchestrator.errors import ExpertError
from orchestrator.verification.budget import Budget
from orchestrator.verification.caller import ExpertCaller
from orchestrator.verification.prompts import agent_messages
from orchestrator.verification.result import Candidate, VerificationResult
from orchestrator.verification.trigger import plurality

__all__ = ["run_mad"]

_PEER_CHARS = 1200
_CHARS_PER_TOKEN = 4


async def run_mad(
    settings: VerificationSettings,
    call: ExpertCaller,
    budget: Budget,
    prices: Mapping[str, Price],
    question: str,
    agents: list[Candidate],
    result: VerificationResult,
    params: dict[str, Any] | None = None,
) -> None:
    latest = list(agents)
    last_round: tuple[int, float] | None = None
    call_params = {**(params or {}), "max_tokens": settings.word_limit * 2 + 64}
    for round_no in range(1, budget.max_rounds + 1):
        if len({a.answer for a in latest if a.answer is not None}) <= 1:
            result.stop_reason = "consensus"
            break
        views = [final_section(a.text, tail_chars=_PEER_CHARS) for a in latest]
        messages = [agent_messages(question, views[i], views[:i] + views[i + 1 :], round_no=round_no) for i in range(len(latest))]
        if last_round is None:
            tokens = sum(sum(len(m["content"]) for m in msgs) // _CHARS_PER_TOKEN + settings.word_limit for msgs in messages)
            usd = sum(p.cost(tokens // len(latest), settings.word_limit) for a in latest if (p := prices.get(a.expert)))
            last_round = (tokens, usd)
        if cap := budget.allows(*last_round):
            result.stop_reason = cap
            break
        settled = await asyncio.gather(*(call(a.expert, msgs, call_params) for a, msgs in zip(latest, messages)), return_exceptions=True)
        done = [c for c in settled if not isinstance(c, BaseException)]
        budget.spent.add(done)  # every answered call is charged, even in a round another agent failed
        if failed := next((e for e in settled if isinstance(e, BaseException)), None):
            if not isinstance(failed, ExpertError | TimeoutError):
                raise failed
            result.flags.append(f"agent failed: {failed}")
            result.stop_reason = "agent_error"
            break
        last_round = (sum(c.prompt_tokens + c.completion_tokens for c in done), sum(c.cost_usd for c in done))
        result.latency_s += max(c.latency_s for c in done)
        # An agent whose revision has no extractable answer keeps its previous one.
        latest = [Candidate(a.expert, c.text, extract_answer(c.text) or a.answer) for a, c in zip(latest, done)]
        result.rounds = round_no
        votes = Counter(a.answer for a in latest if a.answer is not None)
        result.verdicts.append({"round": round_no, "votes": dict(votes)})
        result.transcript.extend({"round": round_no, "expert": a.expert, "answer": a.answer, "text": a.text} for a in latest)
    else:
        result.stop_reason = "round_cap"
    if result.rounds == 0:
        return
    answers = [a.answer for a in latest]
    winner = plurality(answers)
    if winner is None:
        return
    votes = [a for a in answers if a is not None]
    result.answer, result.probability = winner, votes.count(winner) / len(votes)
    result.status = "verified"
    result.text = next(a.text for a in latest if a.answer == winner)
