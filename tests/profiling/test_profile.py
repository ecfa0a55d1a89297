"""``orchestrator profile`` against real simulator processes: graded outcomes, a dataset the
rest of the toolchain accepts, and an expert that dies mid-profile (nothing lost, resumable)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.config import Config
from orchestrator.data import load_dataset
from orchestrator.experts import ExpertClient
from orchestrator.profiling.questions import DEMO, load_questions
from orchestrator.profiling.runner import journal_path, profile

pytestmark = pytest.mark.integration

# Two of the demo dataset's experts: each simulator replays that expert's recorded answers.
A, B = "qwen2.5-math-7b-instruct", "gemma-2-9b-it"


def _config(sims: dict[str, object]) -> Config:
    experts = [
        {"name": name, "model": f"hosted_vllm/{sim.served_model_name}", "api_base": sim.api_base,  # type: ignore[attr-defined]
         "roles": ["expert", "aggregator"], "max_retries": 0, "timeout_s": 10,
         "price": {"input_per_mtok": 0.1 * (i + 1), "output_per_mtok": 0.3 * (i + 1)}}
        for i, (name, sim) in enumerate(sims.items())
    ]  # fmt: skip
    return Config.model_validate({"experts": experts})


def _run(config: Config, questions, out: Path, **kw):  # noqa: ANN001, ANN202
    async def go():  # noqa: ANN202
        async with ExpertClient(config) as client:
            return await profile(config, client, questions, out, **kw)

    return asyncio.run(go())


def _recorded() -> dict[str, dict]:
    return {row["id"]: row for row in map(json.loads, DEMO.read_text().splitlines())}


def test_profile_grades_real_answers_and_records_a_routing_dataset(sim_factory, tmp_path: Path) -> None:
    sims = {n: sim_factory(n.replace(".", "-"), replay=str(DEMO), expert=n) for n in (A, B)}
    config = _config(sims)
    questions = load_questions("demo", limit_per_category=3)
    out = tmp_path / "profile.jsonl"

    # Room for the replayed reasoning; no instruction suffix, so the simulator recognises each prompt.
    summary = _run(config, questions, out, max_tokens=2048, instructions={})

    assert (summary.asked, summary.reused, summary.rows, summary.incomplete) == (2 * len(questions), 0, len(questions), 0)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    recorded = _recorded()
    for row in rows:
        assert set(row["experts"]) == {A, B}
        for name, o in row["experts"].items():
            # The simulator says the recorded answer; grading it reproduces the recorded score.
            assert o["score"] == recorded[row["id"]]["experts"][name]["score"], (row["id"], name, o["text"][-80:])
            assert o["output_tokens"] > 0 and o["latency_s"] > 0
            assert o["cost_usd"] > 0
    ds = load_dataset(out, require_complete=True)
    assert ds.experts == sorted([A, B]) and len(ds) == len(questions)


def test_cost_comes_from_the_configured_prices(sim_factory, tmp_path: Path) -> None:
    sims = {n: sim_factory(n.replace(".", "-"), replay=str(DEMO), expert=n) for n in (A, B)}
    config = _config(sims)
    out = tmp_path / "p.jsonl"
    _run(config, load_questions("demo", limit_per_category=1), out, max_tokens=16)
    for line in journal_path(out).read_text().splitlines():
        rec = json.loads(line)
        price = config.expert(rec["expert"]).price
        assert rec["cost_usd"] == pytest.approx(price.cost(rec["prompt_tokens"], rec["output_tokens"]), rel=1e-6)


def test_an_expert_that_dies_mid_profile_loses_nothing_and_the_run_resumes(sim_factory, tmp_path: Path) -> None:
    sims = {A: sim_factory("alive", replay=str(DEMO), expert=A), B: sim_factory("dying", replay=str(DEMO), expert=B, fresh=True)}
    config = _config(sims)
    questions = load_questions("demo", limit_per_category=2)
    out = tmp_path / "profile.jsonl"

    def kill_b_after_first_chunk(done: int, total: int) -> None:
        if done == 4:  # two questions x two experts
            sims[B].stop()  # type: ignore[attr-defined]

    first = _run(config, questions, out, chunk=2, on_chunk=kill_b_after_first_chunk, max_tokens=16)

    journal = [json.loads(line) for line in journal_path(out).read_text().splitlines()]
    failed = [r for r in journal if r["status"] == "failed"]
    assert {r["expert"] for r in failed} == {B} and len(failed) == len(questions) - 2
    assert all("dying" in r["error"] or r["error"] for r in failed)
    assert sum(r["status"] == "ok" and r["expert"] == A for r in journal) == len(questions)  # A's answers all kept
    assert (first.rows, first.incomplete, first.failed) == (2, len(questions) - 2, {B: len(questions) - 2})

    # B comes back (on another port); the same command asks only what is missing.
    revived = {A: sims[A], B: sim_factory("revived", replay=str(DEMO), expert=B, fresh=True)}
    second = _run(_config(revived), questions, out, chunk=2, max_tokens=16)
    assert (second.asked, second.reused) == (len(questions) - 2, len(questions) + 2)
    assert (second.rows, second.incomplete, second.failed) == (len(questions), 0, {})
    assert len(load_dataset(out, require_complete=True)) == len(questions)


def test_profile_output_feeds_data_inspect_train_and_eval(sim_factory, tmp_path: Path) -> None:
    sims = {n: sim_factory(n.replace(".", "-"), replay=str(DEMO), expert=n) for n in (A, B)}
    config = _config(sims)
    cfg_path = tmp_path / "experts.yaml"
    import yaml

    cfg_path.write_text(yaml.safe_dump(config.model_dump(mode="json", exclude_defaults=True)))
    out = tmp_path / "profile.jsonl"
    runner = CliRunner()
    r = runner.invoke(app, ["profile", "-c", str(cfg_path), "-q", "demo", "--per-category", "8", "-o", str(out), "--chunk", "100", "--max-tokens", "2048"])
    assert r.exit_code == 0, r.output
    assert "rows ->" in r.output
    r = runner.invoke(app, ["data", "inspect", str(out)])
    assert r.exit_code == 0, r.output
    assert A in r.output and B in r.output
    r = runner.invoke(app, ["train", "--data", str(out), "--config", str(cfg_path), "--out", str(tmp_path / "router"), "--no-static-tier"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["eval", "--data", str(out), "--out", str(tmp_path / "report"), "--json"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "report" / "report.json").exists()
