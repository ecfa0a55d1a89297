"""``orchestrator profile``: run validation questions on every expert and record a routing dataset."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from orchestrator.cli._common import console, handles_errors


@handles_errors
def profile(
    config_path: Path = typer.Option(Path("experts.real.yaml"), "--config", "-c", help="composition file"),
    questions: str = typer.Option("demo", "--questions", "-q", help="demo | mmlu_pro | zeroeval | routerbench | adaptive_rag | a JSONL file"),
    out: Path = typer.Option(Path("runs/profile.jsonl"), "--out", "-o", help="routing dataset to write (journal beside it)"),
    per_category: int = typer.Option(0, "--per-category", help="first N questions of each category (0 = all)"),
    split: str = typer.Option("", "--split", help="only questions of this split (train/test)"),
    experts: str = typer.Option("", "--experts", help="comma-separated experts (default: every expert with the 'expert' role)"),
    max_tokens: int = typer.Option(256, "--max-tokens"),
    chunk: int = typer.Option(64, "--chunk", help="questions per offline batch (the journal is written after each)"),
) -> None:
    """Ask, grade and record; run it again to resume (answered pairs in the journal are kept)."""
    from orchestrator.config import load_config
    from orchestrator.experts import ExpertClient
    from orchestrator.profiling.questions import load_questions
    from orchestrator.profiling.runner import journal_path, profile as run_profile

    config = load_config(config_path)
    qs = load_questions(questions, limit_per_category=per_category or None, split=split or None)
    names = [e.strip() for e in experts.split(",") if e.strip()] or None

    def progress(done: int, total: int) -> None:
        console.print(f"  {done}/{total} answers recorded", highlight=False, soft_wrap=True)

    async def run():  # noqa: ANN202
        async with ExpertClient(config) as client:
            return await run_profile(config, client, qs, out, experts=names, max_tokens=max_tokens, chunk=chunk, on_chunk=progress)

    console.print(f"profiling {len(qs)} questions from {questions}", highlight=False, soft_wrap=True)
    s = asyncio.run(run())
    console.print(f"asked {s.asked} (question, expert) pairs, reused {s.reused} from {journal_path(out)}", highlight=False, soft_wrap=True)
    for name, cats in s.accuracy.items():
        overall = sum(cats.values()) / len(cats) if cats else 0.0
        detail = ", ".join(f"{c} {v:.2f}" for c, v in cats.items())
        console.print(f"  {name}: mean over categories {overall:.2f} ({detail})", highlight=False, soft_wrap=True)
    console.print(f"{s.rows} rows -> {out}", highlight=False, soft_wrap=True)
    if s.incomplete:
        failed = ", ".join(f"{n}: {k}" for n, k in s.failed.items()) or "none failed, some not asked"
        console.print(f"{s.incomplete} questions incomplete ({failed}); run the same command again to resume", style="yellow", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("profile")(profile)
