"""Grading free-text answers: multiple-choice letters, numbers, normalised text, and junk."""

from __future__ import annotations

import pytest

from orchestrator.profiling.grading import grade, infer_kind


@pytest.mark.parametrize(
    ("answer", "gold", "score", "extracted"),
    [
        ("B. Diamond", "B", 1.0, "B"),
        ("The answer is (D).", "D", 1.0, "D"),
        ("**C**", "C", 1.0, "C"),
        ("I think it is C", "C", 1.0, "C"),  # "I" is a pronoun, not option I
        ("A good choice would be B", "B", 1.0, "B"),  # "A" is an article
        ("A. Quartz", "B", 0.0, "A"),
        ("Option B is wrong; the answer is: A", "A", 1.0, "A"),
    ],
)
def test_multiple_choice_reads_the_chosen_letter(answer: str, gold: str, score: float, extracted: str) -> None:
    g = grade(answer, gold)
    assert (g.kind, g.score, g.extracted) == ("letter", score, extracted)


@pytest.mark.parametrize(
    ("answer", "gold", "score"),
    [
        ("45 km/h for 5 hours is 45 * 5 = 225 km.", "225", 1.0),
        ("#### 1,234", "1234", 1.0),
        ("The answer is 28 dollars, not 40.", "28", 1.0),
        ("\\boxed{0.5}", "0.50", 1.0),
        ("It prints 25.0", "25", 1.0),
        ("The sum is 24", "25", 0.0),
        ("-3", "-3", 1.0),
    ],
)
def test_numbers_compare_the_final_number_by_value(answer: str, gold: str, score: float) -> None:
    assert grade(answer, gold).score == score


@pytest.mark.parametrize(
    ("answer", "golds", "score"),
    [
        ("Elton John", ["Elton John"], 1.0),
        ("It was sung by Elton John.", ["Elton John", "George Michael"], 1.0),
        ("the Beatles", ["Beatles"], 1.0),  # articles and case do not matter
        ("Paris, France.", ["Paris"], 1.0),
        ("London", ["Paris"], 0.0),
    ],
)
def test_text_matches_after_normalisation(answer: str, golds: list[str], score: float) -> None:
    assert grade(answer, golds, "exact").score == score


@pytest.mark.parametrize(("answer", "gold"), [("", "B"), ("I don't know.", "B"), ("", "12"), ("no idea", "12"), ("", "Paris")])
def test_malformed_or_empty_answers_score_zero(answer: str, gold: str) -> None:
    g = grade(answer, gold)
    assert g.score == 0.0
    assert g.extracted in (None, "I") or g.kind == "exact"


def test_a_long_answer_that_merely_mentions_the_gold_is_not_an_exact_match() -> None:
    answer = "There are many cities in Europe such as London, Berlin, Rome and Paris, but the capital is Madrid."
    assert grade(answer, ["Paris"], "exact").score == 0.0


def test_kind_comes_from_the_gold() -> None:
    assert [infer_kind(g) for g in ("C", "12", "-0.5", "1,000", "Jane Austen")] == ["letter", "number", "number", "number", "exact"]


def test_no_gold_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one gold"):
        grade("B", [])
