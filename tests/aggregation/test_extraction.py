import pytest

from orchestrator.aggregation import extract_answer, final_section, normalize_answer, strip_reasoning


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Adding them up gives 18 eggs.\nThe answer is 18.", "18", id="answer-is-line"),
        pytest.param("So she earns $18.00 a day.\nFinal answer: $18.00", "18", id="final-answer-dollars"),
        pytest.param("Thus \\boxed{\\frac{1}{2}} is the probability.", "0.5", id="boxed-fraction"),
        pytest.param("We get \\boxed{x^{2}+1}.", "x^{2}+1", id="boxed-nested-braces"),
        pytest.param("Option C fits best.\nAnswer: (C)", "C", id="letter-in-parens"),
        pytest.param("The answer is B. Paris is the capital.", "B", id="letter-then-text"),
        pytest.param("B", "B", id="bare-letter"),
        pytest.param("1,234", "1234", id="bare-number-with-comma"),
        pytest.param("<think>maybe 7? The answer is 7.</think>The answer is 8.", "8", id="after-reasoning-only"),
        pytest.param("The answer is 18.0", "18", id="float-equals-int"),
    ],
)
def test_extract_answer_finds_canonical_answer(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Here is a short poem about autumn leaves falling softly.", id="open-ended"),
        pytest.param("", id="empty"),
        pytest.param("<think>The answer is 3</think>", id="only-reasoning"),
    ],
)
def test_extract_answer_returns_none_when_no_final_answer(text):
    assert extract_answer(text) is None


def test_normalize_answer_makes_equivalent_numbers_equal():
    assert normalize_answer("$1,000") == normalize_answer("1000.0") == "1000"


def test_strip_reasoning_keeps_text_after_last_marker():
    assert strip_reasoning("<think>a</think> b </think> c") == "c"


def test_final_section_keeps_answer_line_and_tail_of_long_response():
    text = "The answer is 42.\n" + "x" * 5000 + "\nDone."
    out = final_section(text, tail_chars=100)
    assert out.startswith("The answer is 42.")
    assert out.endswith("Done.")
    assert len(out) < 200


def test_final_section_leaves_short_response_whole():
    assert final_section("short", tail_chars=100) == "short"
