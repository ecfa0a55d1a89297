import pytest

from orchestrator.verification import check_quotes, parse_probability

QUESTION = "A train leaves at 3 pm and travels   60 km at 40 km/h. When does it arrive?"


def test_quote_found_in_the_question_is_verified_despite_case_and_spacing():
    marked, checks = check_quotes("As stated, <quote>travels 60 KM at 40 km/h</quote>.", [QUESTION])
    assert [c.verified for c in checks] == [True]
    assert '<quote status="verified">travels 60 KM at 40 km/h</quote>' in marked


def test_invented_quote_is_marked_unverified():
    marked, checks = check_quotes("<quote>the train is late</quote> and <quote>leaves at 3 pm</quote>", [QUESTION])
    assert [(c.text, c.verified) for c in checks] == [("the train is late", False), ("leaves at 3 pm", True)]
    assert '<quote status="unverified">the train is late</quote>' in marked


def test_quote_from_a_retrieved_passage_is_verified():
    _, checks = check_quotes("<quote>Trains run hourly.</quote>", [QUESTION, "Timetable: trains run hourly."])
    assert checks[0].verified


def test_empty_quote_is_not_verified():
    _, checks = check_quotes("<quote> </quote>", [QUESTION])
    assert not checks[0].verified


@pytest.mark.parametrize(
    ("reply", "p"),
    [
        ("P(A)=0.7", 0.7),
        ("P(A): 70%", 0.7),
        ("p(a) = .7", 0.7),
        ("P(B)=0.2", 0.8),  # the other answer's probability
        ("0.65", 0.65),
        ("Both argue well. Final: P(A)=0.9", 0.9),
        ("<think>P(A)=0.1 maybe</think>P(A)=0.85", 0.85),  # reasoning is ignored
        ("P(A)=1", 1.0),
    ],
)
def test_judge_reply_parsing_is_tolerant(reply, p):
    assert parse_probability(reply) == pytest.approx(p)


@pytest.mark.parametrize("reply", ["A is right.", "", "P(A)=1.5", "P(A)=high"])
def test_judge_reply_without_a_probability_is_malformed(reply):
    assert parse_probability(reply) is None
