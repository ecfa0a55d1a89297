"""Profile experts by running them: every validation question to every expert, graded, recorded.

Questions go out through the scheduler's offline batch (``run_offline_batch``), grouped by
expert, so within a chunk each model is woken once. After each chunk every outcome is appended
to a journal (``<out>.journal.jsonl``, flushed and fsynced), one line per (question, expert):
``status: ok`` with the graded answer, or ``status: failed`` with the error. Nothing answered
is lost when an expert (or this process) dies; running the same command again resumes: pairs
already ``ok`` in the journal are not asked again, failed and missing ones are.

The routing dataset (``out``) is rebuilt from the journal after every run, in the project's
format, with the rows on which every expert answered; incomplete rows are counted and named in
the summary, not silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.config import Config
from orchestrator.experts.client import ExpertClient
from orchestrator.experts.types import Completion
from orchestrator.profiling.grading import grade
from orchestrator.profiling.questions import Question
from orchestrator.scheduling.offline import run_offline_batch

__all__ = ["INSTRUCTIONS", "ProfileSummary", "journal_path", "profile", "write_dataset"]

#: Appended to a question of each kind. Numeric questions ask for brief reasoning and a final
#: "The answer is N." (a terse "answer concisely" system prompt made the small models guess;
#: tried on the demo questions). Multiple-choice prompts already say "Answer with the letter."
INSTRUCTIONS: dict[str, str] = {"number": "\nThink step by step, then finish with 'The answer is N.'", "letter": "", "exact": ""}


def journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".journal.jsonl")


@dataclass
class ProfileSummary:
    asked: int = 0  # (question, expert) pairs sent in this run
    reused: int = 0  # pairs already answered in the journal
    failed: dict[str, int] = field(default_factory=dict)  # expert -> failed pairs after this run
    rows: int = 0  # complete rows written to the dataset
    incomplete: int = 0  # questions some expert has not answered (yet)
    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)  # expert -> category -> mean score


def _split(q: Question) -> str:
    if q.split in ("train", "test"):
        return q.split
    # No split from the source: a fixed 70/30 split by prompt hash (the same on every run).
    return "train" if int(hashlib.sha1(q.prompt.encode()).hexdigest(), 16) % 10 < 7 else "test"


def _read_journal(path: Path) -> dict[tuple[str, str], dict]:
    """Latest line per (id, expert); a torn last line (killed mid-write) is ignored."""
    latest: dict[tuple[str, str], dict] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                latest[(rec["id"], rec["expert"])] = rec
            except (ValueError, KeyError, TypeError):
                continue
    return latest


def _outcome(q: Question, c: Completion) -> dict[str, Any]:
    base = {"id": q.id, "expert": c.expert, "prompt_tokens": c.prompt_tokens, "output_tokens": c.completion_tokens,
            "latency_s": round(c.latency_s, 4), "attempts": c.attempts}  # fmt: skip
    if not c.ok:
        return {**base, "status": "failed", "error": c.events[-1].detail if c.events else "failed"}
    g = grade(c.text, q.gold, q.kind)
    return {**base, "status": "ok", "score": g.score, "answer": g.extracted, "text": c.text, "finish_reason": c.finish_reason,
            "cost_usd": round(c.cost_usd, 10), "mean_logprob": None if c.mean_logprob is None else round(c.mean_logprob, 5)}  # fmt: skip


async def profile(
    config: Config,
    client: ExpertClient,
    questions: list[Question],
    out: Path,
    *,
    experts: list[str] | None = None,
    max_tokens: int = 256,
    chunk: int = 64,
    system_prompt: str | None = None,
    instructions: dict[str, str] | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
) -> ProfileSummary:
    """Ask every (question, expert) pair not yet answered in the journal, then write ``out``."""
    names = experts or [e.name for e in config.with_role("expert")]
    for name in names:
        config.expert(name)  # an unknown expert is an error before any work
    journal = journal_path(out)
    journal.parent.mkdir(parents=True, exist_ok=True)
    done = {k for k, rec in _read_journal(journal).items() if rec.get("status") == "ok"}
    by_id = {q.id: q for q in questions}
    todo = [(q, e) for q in questions for e in names if (q.id, e) not in done]
    summary = ProfileSummary(asked=len(todo), reused=len(questions) * len(names) - len(todo))
    params = {"max_tokens": max_tokens, "temperature": 0.0, "logprobs": True}
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    suffix = INSTRUCTIONS if instructions is None else instructions
    step = max(1, chunk) * len(names)
    for start in range(0, len(todo), step):
        part = todo[start : start + step]
        assignments = [(q.id, e, [*system, {"role": "user", "content": q.prompt + suffix.get(q.kind, "")}], params) for q, e in part]
        results = await run_offline_batch(config, client, assignments, progress=False)
        with journal.open("a", encoding="utf-8") as f:
            for qid, completions in results.items():
                for c in completions:
                    f.write(json.dumps(_outcome(by_id[qid], c)) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if on_chunk is not None:
            on_chunk(min(start + step, len(todo)), len(todo))
    write_dataset(questions, names, journal, out, summary, system_prompt, suffix)
    return summary


def write_dataset(questions: list[Question], names: list[str], journal: Path, out: Path,
                  summary: ProfileSummary | None = None, system_prompt: str | None = None,
                  instructions: dict[str, str] | None = None) -> ProfileSummary:  # fmt: skip
    """Rebuild the routing dataset from the journal: one row per question every expert answered."""
    summary = summary or ProfileSummary()
    latest = _read_journal(journal)
    totals: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for q in questions:
            recs = {n: latest.get((q.id, n)) for n in names}
            for n, rec in recs.items():
                if rec is not None and rec.get("status") == "failed":
                    summary.failed[n] = summary.failed.get(n, 0) + 1
            if not all(rec is not None and rec.get("status") == "ok" for rec in recs.values()):
                summary.incomplete += 1
                continue
            row = {"id": q.id, "prompt": q.prompt, "task": q.task, "category": q.category, "split": _split(q),
                   "gold": q.gold if len(q.gold) > 1 else q.gold[0], "kind": q.kind, "instruction": (INSTRUCTIONS if instructions is None else instructions).get(q.kind) or None, "system_prompt": system_prompt,
                   "recorded": True, "experts": {}}  # fmt: skip
            for n, rec in recs.items():
                assert rec is not None
                row["experts"][n] = {k: rec.get(k) for k in ("score", "cost_usd", "output_tokens", "answer", "latency_s", "mean_logprob", "text")}
                totals[n].setdefault(q.category or "-", []).append(float(rec["score"]))
            f.write(json.dumps(row) + "\n")
            summary.rows += 1
    tmp.replace(out)
    summary.accuracy = {n: {c: sum(v) / len(v) for c, v in sorted(cats.items())} for n, cats in totals.items()}
    return summary
