"""Replayed and template answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.expert_sim.answers import Answerer, ReplayBook

ROWS = [
    {
        "id": "q1",
        "prompt": "What is 6 x 7?",
        "experts": {"good": {"score": 1.0, "answer": "42"}, "bad": {"score": 0.0, "answer": "41"}},
    },
    {
        "id": "q2",
        "prompt": "Is  the sky\nblue?",
        "experts": {"good": {"score": 0.9}, "bad": {"score": 0.1}, "other": {"score": 0.2}},
    },
]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "routing.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    return path


def final_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_replay_answers_with_the_recorded_answer(dataset: Path) -> None:
    good = Answerer("good", book=ReplayBook.load(dataset, "good"))
    bad = Answerer("bad", book=ReplayBook.load(dataset, "bad"))
    assert final_line(good.answer("What is 6 x 7?")) == "The answer is 42."
    assert final_line(bad.answer("What is 6 x 7?")) == "The answer is 41."
    assert len(good.answer("What is 6 x 7?").splitlines()) >= 2  # a short chain of reasoning first


def test_replay_matches_prompts_after_collapsing_whitespace(dataset: Path) -> None:
    good = Answerer("good", book=ReplayBook.load(dataset, "good"))
    assert final_line(good.answer("  Is the sky blue? ")) == "The answer is ref-q2."


def test_replay_without_recorded_answer_tells_correct_from_wrong(dataset: Path) -> None:
    answers = {
        e: final_line(Answerer(e, book=ReplayBook.load(dataset, e)).answer("Is  the sky\nblue?"))
        for e in ("good", "bad", "other")
    }
    assert answers["good"] == "The answer is ref-q2."  # every correct expert agrees
    assert answers["bad"].startswith("The answer is wrong-q2-")
    assert answers["bad"] != answers["other"]  # wrong experts disagree with each other


def test_unknown_prompt_gets_a_deterministic_template_answer(dataset: Path) -> None:
    a = Answerer("good", seed=3, book=ReplayBook.load(dataset, "good"))
    first = a.answer("Something never recorded")
    assert first == a.answer("Something never recorded")
    assert final_line(first).startswith("The answer is ")


def test_expert_absent_from_dataset_answers_from_templates(dataset: Path) -> None:
    book = ReplayBook.load(dataset, "nobody")
    assert len(book) == 0
    assert final_line(Answerer("nobody", book=book).answer("What is 6 x 7?")).startswith("The answer is ")


def test_replayed_answer_is_about_as_long_as_the_recorded_one(tmp_path: Path) -> None:
    from services.expert_sim.tokens import count_text

    path = tmp_path / "long.jsonl"
    row = {"id": "L", "prompt": "Prove it.", "experts": {"e": {"score": 1.0, "answer": "QED", "output_tokens": 300}}}
    path.write_text(json.dumps(row) + "\n")
    text = Answerer("e", book=ReplayBook.load(path, "e")).answer("Prove it.")
    assert 280 <= count_text(text) <= 330
    assert final_line(text) == "The answer is QED."
