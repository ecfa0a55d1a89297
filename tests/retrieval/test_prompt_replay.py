"""Numbered-passage prompts, and the simulator replaying the answer recorded for the strategy a
prompt shows (no passages: no retrieval; step 1: single; step 2+: multi-step)."""

from __future__ import annotations

import json

from orchestrator.retrieval.prompt import augmented_prompt, parse_augmented, replay_key
from orchestrator.retrieval.store import Hit
from services.expert_sim.answers import Answerer, ReplayBook

Q = "Who wrote Hamlet?"
HITS = [Hit("a.txt", 0, "Hamlet", "Hamlet is a tragedy by William Shakespeare.", 0.8), Hit("b.txt", 2, "", "Elsinore is a castle.", 0.4)]


def test_passages_are_numbered_and_the_question_comes_last():
    prompt = augmented_prompt(Q, HITS, step=2)
    assert "[1] Hamlet: Hamlet is a tragedy" in prompt and "[2] Elsinore is a castle." in prompt
    assert parse_augmented(prompt) == (Q, 2)
    assert parse_augmented(Q) is None


def test_the_simulator_replays_the_recorded_answer_of_the_strategy_in_the_prompt(tmp_path):
    replay = tmp_path / "replay.jsonl"
    answers = {"no_retrieval": "Marlowe", "single": "Shakespeare", "multi": "William Shakespeare"}
    with replay.open("w") as fh:
        for s, a in answers.items():
            fh.write(json.dumps({"id": s, "prompt": replay_key(Q, s), "experts": {"llama": {"score": 1.0, "answer": a}}}) + "\n")
    sim = Answerer("llama", book=ReplayBook.load(replay, "llama"))
    assert sim.answer(Q).endswith("The answer is Marlowe.")
    assert sim.answer(augmented_prompt(Q, HITS, step=1)).endswith("The answer is Shakespeare.")
    assert sim.answer(augmented_prompt(Q, HITS, step=3)).endswith("The answer is William Shakespeare.")
