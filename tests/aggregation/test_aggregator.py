from dataclasses import dataclass

import pytest

from orchestrator.aggregation import SYNTHESIS_INSTRUCTION, Aggregator, Candidate, synthesis_messages
from orchestrator.config import AggregationSettings
from orchestrator.errors import ExpertUnavailable

MESSAGES = [{"role": "user", "content": "What is 6 * 7?"}]


@dataclass
class Reply:
    expert: str
    text: str
    prompt_tokens: int = 10
    completion_tokens: int = 5
    cost_usd: float = 1e-6
    finish_reason: str = "stop"


class RecordingAggregator:
    """A stand-in aggregator expert that answers with a fixed text and records its prompts."""

    def __init__(self, text: str = "Combining the answers: The answer is 42."):
        self.text = text
        self.calls: list[tuple[str, list[dict], dict]] = []

    async def __call__(self, expert, messages, params):
        self.calls.append((expert, messages, params))
        return Reply(expert, self.text)


def cands(*texts):
    return [Candidate(f"e{i}", t) for i, t in enumerate(texts)]


@pytest.mark.anyio
async def test_aggregate_takes_consensus_shortcut_when_all_answers_agree():
    complete = RecordingAggregator()
    result = await Aggregator().aggregate(
        MESSAGES, cands("The answer is 42.", "6*7 = 42\nAnswer: 42", "\\boxed{42}"), aggregator="agg", complete=complete
    )
    assert result.mode == "consensus"
    assert result.answer == "42"
    assert result.agreement == 1.0
    assert complete.calls == []
    assert any("consensus" in n for n in result.notes)


@pytest.mark.anyio
async def test_aggregate_votes_by_majority_when_answers_disagree():
    result = await Aggregator().aggregate(MESSAGES, cands("The answer is 41.", "The answer is 42.", "Answer: 42"))
    assert result.mode == "vote"
    assert result.answer == "42"
    assert result.text == "The answer is 42."
    assert result.agreement == pytest.approx(2 / 3)


@pytest.mark.anyio
async def test_vote_breaks_ties_by_rank_order():
    result = await Aggregator().aggregate(MESSAGES, cands("The answer is 7.", "The answer is 9."), mode="vote")
    assert result.answer == "7"


@pytest.mark.anyio
async def test_aggregate_synthesises_when_answers_do_not_extract():
    complete = RecordingAggregator("A merged poem.")
    result = await Aggregator().aggregate(
        [{"role": "user", "content": "Write a poem"}], cands("Roses are red.", "Violets are blue."), aggregator="agg", complete=complete
    )
    assert result.mode == "synthesis"
    assert result.text == "A merged poem."
    assert result.aggregator == "agg"
    (expert, messages, params), = complete.calls
    assert expert == "agg"
    assert params["temperature"] == 0.7
    assert "Roses are red." in messages[0]["content"] and "Violets are blue." in messages[0]["content"]
    assert messages[-1] == {"role": "user", "content": "Write a poem"}


@pytest.mark.anyio
async def test_synthesis_mode_calls_aggregator_even_on_disagreeing_numbers():
    complete = RecordingAggregator()
    result = await Aggregator().aggregate(MESSAGES, cands("The answer is 41.", "The answer is 42."), mode="synthesis", aggregator="a", complete=complete)
    assert result.mode == "synthesis"
    assert result.answer == "42"
    assert len(result.calls) == 1


@pytest.mark.anyio
async def test_single_candidate_is_returned_without_aggregation():
    result = await Aggregator().aggregate(MESSAGES, cands("The answer is 42."), mode="synthesis", aggregator="a", complete=RecordingAggregator())
    assert (result.mode, result.text, result.calls) == ("single", "The answer is 42.", [])


@pytest.mark.anyio
async def test_context_guard_truncates_long_responses_and_aggregates_sequentially():
    settings = AggregationSettings(max_response_chars=200, max_context_chars=450)
    complete = RecordingAggregator("Merged text without a final line.")
    long = ["Reasoning " * 200 + f"ending {i}" for i in range(4)]
    result = await Aggregator(settings).aggregate(
        [{"role": "user", "content": "Explain"}], cands(*long), mode="synthesis", aggregator="a", complete=complete
    )
    assert len(complete.calls) == 2
    assert any("sequential synthesis in 2 rounds" in n for n in result.notes)
    for _, messages, _ in complete.calls:
        assert len(messages[0]["content"]) < len(SYNTHESIS_INSTRUCTION) + 3 * 260
    # The second round sees the first round's synthesis as one of its inputs.
    assert "Merged text without a final line." in complete.calls[1][1][0]["content"]


@pytest.mark.anyio
async def test_aggregate_without_aggregator_falls_back_to_best_ranked_text():
    result = await Aggregator().aggregate(MESSAGES, cands("Prose one.", "Prose two."), mode="synthesis")
    assert (result.mode, result.text) == ("best", "Prose one.")


@pytest.mark.anyio
async def test_aggregate_labels_repeated_expert_answers_separately():
    c = [Candidate("same", "The answer is 1."), Candidate("same", "The answer is 2."), Candidate("same", "The answer is 2.")]
    result = await Aggregator().aggregate(MESSAGES, c)
    assert result.answers == {"same": "1", "same#2": "2", "same#3": "2"}
    assert result.answer == "2"


@pytest.mark.anyio
async def test_aggregate_propagates_aggregator_failure():
    async def down(expert, messages, params):
        raise ExpertUnavailable(expert, "connection refused")

    with pytest.raises(ExpertUnavailable):
        await Aggregator().aggregate(MESSAGES, cands("a poem", "another"), mode="synthesis", aggregator="a", complete=down)


def test_mode_for_prefers_request_then_category_then_default():
    agg = Aggregator(AggregationSettings(default_mode="auto", per_category={"math": "vote"}))
    assert agg.mode_for("math") == "vote"
    assert agg.mode_for("law") == "auto"
    assert agg.mode_for("math", "synthesis") == "synthesis"
    with pytest.raises(ValueError, match="unknown aggregation mode 'mystery'"):
        agg.mode_for(None, "mystery")


def test_synthesis_messages_extends_existing_system_message():
    out = synthesis_messages([{"role": "system", "content": "Be brief."}, *MESSAGES], [("a", "42"), ("b", "41")])
    assert len(out) == 2
    assert out[0]["content"].startswith("Be brief.")
    assert "[Answer 1]\n42" in out[0]["content"] and "[Answer 2]\n41" in out[0]["content"]
