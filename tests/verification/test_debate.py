"""The debate, consultancy and multi-agent protocols against scripted experts and judges."""

import re

import pytest

from orchestrator.config import Price, VerificationSettings
from orchestrator.verification import Aggregated, Candidate, Verifier

from .scripted import ScriptedExperts, user_text

QUESTION = "What is 6 * 7? Think about multiplication tables."
CANDIDATES = [
    Candidate("alpha", "6 times 7 is 42. The answer is 42.", "42"),
    Candidate("beta", "6 * 7 = 41. The answer is 41.", "41"),
    Candidate("gamma", "Hmm, 40. The answer is 40.", "40"),
]
AGGREGATED = Aggregated("42", CANDIDATES[0].text, None, cost_usd=1e-3)


def speech(answer: str) -> str:
    return f"The question says <quote>6 * 7</quote> and <quote>seven sixes make forty</quote>. The answer is {answer}."


def prefers(answer: str, p: float):
    """A judge whose belief is about the answers, not their order: P(answer)=p wherever it is shown."""

    def reply(messages):
        shown_first = re.search(r'<answer label="A">(.*?)</answer>', user_text(messages)).group(1)
        return f"P(A)={p if shown_first == answer else 1 - p:.2f}"

    return reply


def debaters(**judge) -> dict:
    return {"alpha": speech("42"), "beta": speech("41"), **judge}


def verifier(experts, **settings) -> Verifier:
    return Verifier(VerificationSettings(**settings), experts, "judge")


async def run(experts, when="auto", mode=None, **settings):
    return await verifier(experts, **settings).verify(QUESTION, CANDIDATES, AGGREGATED, when=when, mode=mode)


@pytest.mark.anyio
async def test_confident_judge_stops_after_the_first_round():
    experts = ScriptedExperts(debaters(judge=prefers("42", 0.95)))
    result = await run(experts)
    assert (result.status, result.rounds, result.stop_reason) == ("verified", 1, "confident")
    assert (result.answer, result.probability) == ("42", pytest.approx(0.95))
    assert not result.changed and result.text == AGGREGATED.text
    # round 1: both debaters (the two best-ranked holders of the two top answers) and two judge orders
    assert [e for e, _, _ in experts.calls].count("alpha") == 1 and len(experts.to("judge")) == 2


@pytest.mark.anyio
async def test_unsure_judge_runs_to_the_round_cap_with_a_verdict_every_round():
    experts = ScriptedExperts(debaters(judge="P(A)=0.6"))
    result = await run(experts, max_rounds=3)
    assert (result.rounds, result.stop_reason, len(result.verdicts)) == (3, "round_cap", 3)
    assert len(experts.to("judge")) == 6


@pytest.mark.anyio
async def test_first_round_is_simultaneous_and_later_rounds_sequential():
    experts = ScriptedExperts(debaters(judge="P(A)=0.6"))
    await run(experts, max_rounds=2)
    alpha, beta = experts.to("alpha"), experts.to("beta")
    assert "(no speeches yet)" in user_text(alpha[0]) and "(no speeches yet)" in user_text(beta[0])
    # round 2: A speaks first having seen round 1; B then answers A's round-2 speech too
    assert '<turn round="2"' not in user_text(alpha[1])
    assert '<turn round="2" speaker="A">' in user_text(beta[1])


@pytest.mark.anyio
async def test_judge_is_asked_in_both_orders_and_position_bias_cancels():
    # This judge always favours whichever answer it is shown first.
    experts = ScriptedExperts(debaters(judge="P(A)=0.7"))
    result = await run(experts, max_rounds=1)
    first, swapped = (user_text(m) for m in experts.to("judge"))
    assert '<answer label="A">42</answer>' in first and '<answer label="A">41</answer>' in swapped
    # speakers are relabelled with their answers
    assert '<turn round="1" speaker="B">' in swapped and "The answer is 42." in swapped.split('speaker="B">')[1]
    assert result.verdicts[0]["by_order"] == [0.7, 0.3]
    assert result.probability == pytest.approx(0.5)


@pytest.mark.anyio
async def test_judge_sees_quotes_marked_verified_or_not_and_speeches_cut_at_the_word_limit():
    long_speech = speech("41") + " filler" * 300
    experts = ScriptedExperts(debaters(beta=long_speech, judge=prefers("42", 0.95)))
    result = await run(experts, word_limit=40)
    judge_view = user_text(experts.to("judge")[0])
    assert '<quote status="verified">6 * 7</quote>' in judge_view
    assert '<quote status="unverified">seven sixes make forty</quote>' in judge_view
    beta_turn = next(t for t in result.transcript if t["expert"] == "beta")
    assert beta_turn["cut"] and beta_turn["text"].endswith("[cut at the word limit]")
    assert len(re.sub(r' status="\w+"', "", beta_turn["text"]).split()) == 40 + 5
    assert [q["verified"] for q in beta_turn["quotes"]] == [True, False]


@pytest.mark.anyio
async def test_verdict_for_the_rival_flips_the_answer_to_its_expert_response():
    experts = ScriptedExperts(debaters(judge=prefers("41", 0.95)))
    result = await run(experts)
    assert result.changed and (result.answer, result.probability) == ("41", pytest.approx(0.95))
    assert result.text == CANDIDATES[1].text


@pytest.mark.anyio
async def test_malformed_judge_output_is_reasked_once():
    replies = iter(["I believe A is right.", "P(A)=0.92", "P(A)=0.92", "P(A)=0.92"])
    experts = ScriptedExperts(debaters(judge=lambda messages: next(replies)))
    result = await run(experts, both_orders=False)
    assert result.status == "verified"
    reask = experts.to("judge")[1]
    assert reask[-2] == {"role": "assistant", "content": "I believe A is right."}
    assert "P(A)=" in reask[-1]["content"]


@pytest.mark.anyio
async def test_judge_malformed_twice_leaves_the_answer_unverified_and_flagged():
    experts = ScriptedExperts(debaters(judge="Answer A, clearly."))
    result = await run(experts)
    assert (result.status, result.stop_reason) == ("unverified", "judge_malformed")
    assert "judge_malformed" in result.flags
    assert result.text == AGGREGATED.text and result.answer is None
    assert len(experts.to("judge")) == 4  # two orders, each asked twice


@pytest.mark.anyio
async def test_judge_that_times_out_is_retried_once_then_flagged():
    experts = ScriptedExperts(debaters(judge="P(A)=0.9"), delays={"judge": 5.0})
    result = await run(experts, judge_timeout_s=0.05, both_orders=False)
    assert (result.status, result.flags) == ("unverified", ["judge_timeout"])
    assert len(experts.to("judge")) == 2
    assert result.text == AGGREGATED.text


@pytest.mark.anyio
async def test_round_cap_of_one():
    experts = ScriptedExperts(debaters(judge="P(A)=0.6"))
    result = await run(experts, max_rounds=1)
    assert (result.rounds, result.stop_reason, result.status) == (1, "round_cap", "verified")


@pytest.mark.anyio
async def test_token_cap_mid_debate_returns_the_best_answer_so_far_with_its_probability():
    experts = ScriptedExperts(debaters(judge=prefers("41", 0.7)))
    one_round = (await run(ScriptedExperts(debaters(judge=prefers("41", 0.7))), max_rounds=1)).spend.tokens
    result = await run(experts, max_rounds=3, max_tokens=int(one_round * 1.5))
    assert (result.status, result.rounds, result.stop_reason) == ("verified", 1, "token_cap")
    assert (result.answer, result.probability) == ("41", pytest.approx(0.7))
    assert result.spend.tokens <= int(one_round * 1.5)


@pytest.mark.anyio
async def test_token_cap_before_any_verdict_leaves_the_answer_unverified():
    experts = ScriptedExperts(debaters(judge="P(A)=0.95"))
    result = await run(experts, max_tokens=50)
    assert (result.status, result.stop_reason, experts.calls) == ("unverified", "token_cap", [])
    assert result.text == AGGREGATED.text and "unverified: token_cap" in result.flags


@pytest.mark.anyio
async def test_usd_cap_is_checked_against_prices_before_the_first_round():
    experts = ScriptedExperts(debaters(judge="P(A)=0.95"))
    prices = {name: Price(input_per_mtok=1000, output_per_mtok=1000) for name in ("alpha", "beta", "judge")}
    result = await Verifier(VerificationSettings(max_usd=0.01), experts, "judge", prices).verify(QUESTION, CANDIDATES, AGGREGATED)
    assert (result.status, result.stop_reason, experts.calls) == ("unverified", "usd_cap", [])


@pytest.mark.anyio
async def test_usd_cap_mid_debate_and_cost_ratio_cap():
    # Each call costs 1e-4 USD: a round is 2 speeches + 2 judge orders = 4e-4.
    result = await run(ScriptedExperts(debaters(judge="P(A)=0.6")), max_usd=6e-4)
    assert (result.rounds, result.stop_reason) == (1, "usd_cap")
    assert result.spend.cost_usd == pytest.approx(4e-4)
    # max_cost_ratio: at most 0.5 x the request's 1e-3 USD so far
    result = await run(ScriptedExperts(debaters(judge="P(A)=0.6")), max_cost_ratio=0.5)
    assert (result.rounds, result.stop_reason) == (1, "usd_cap")


@pytest.mark.anyio
async def test_not_triggered_or_off_skips_without_calling_anyone():
    experts = ScriptedExperts(debaters(judge="P(A)=0.95"))
    agree = [Candidate("alpha", "The answer is 42.", "42"), Candidate("beta", "The answer is 42.", "42")]
    result = await verifier(experts).verify(QUESTION, agree, AGGREGATED)
    assert (result.status, result.reason) == ("skipped", "not triggered")
    result = await verifier(experts).verify(QUESTION, CANDIDATES, AGGREGATED, when="off")
    assert (result.status, result.reason) == ("skipped", "off")
    # "always" runs without a trigger, but needs two answers to weigh
    result = await verifier(experts).verify(QUESTION, agree, AGGREGATED, when="always")
    assert result.reason == "fewer than two distinct answers to weigh"
    assert experts.calls == []


@pytest.mark.anyio
async def test_always_runs_on_a_two_to_one_split_that_auto_leaves_alone():
    experts = ScriptedExperts(debaters(judge="P(A)=0.95"))
    split = [CANDIDATES[0], Candidate("gamma", "The answer is 42.", "42"), CANDIDATES[1]]
    assert (await verifier(experts, disagreement="no_majority").verify(QUESTION, split, AGGREGATED)).status == "skipped"
    assert (await verifier(experts).verify(QUESTION, split, AGGREGATED, when="always")).status == "verified"


@pytest.mark.anyio
async def test_consultancy_has_one_speaker_with_twice_the_word_limit():
    experts = ScriptedExperts(debaters(judge="P(A)=0.95"))
    result = await run(experts, mode="consultancy", word_limit=50)
    assert result.status == "verified" and experts.to("beta") == []
    assert "at most 100 words" in user_text(experts.to("alpha")[0])
    assert 'speaker="B"' not in user_text(experts.to("judge")[0])


def _agent(answer_if_persuaded: str | None, own: str):
    def reply(messages):
        text = user_text(messages)
        peers = re.findall(r"The answer is (\S+)\.", text.split("<peer>", 1)[1]) if "<peer>" in text else []
        return f"The answer is {answer_if_persuaded if answer_if_persuaded in peers else own}."

    return reply


@pytest.mark.anyio
async def test_multi_agent_debate_revises_until_agreement_then_votes():
    experts = ScriptedExperts({"alpha": _agent(None, "42"), "beta": _agent("42", "41"), "gamma": _agent("42", "40")})
    result = await run(experts, mode="mad", max_rounds=3)
    assert (result.status, result.rounds, result.stop_reason) == ("verified", 1, "consensus")
    assert (result.answer, result.probability) == ("42", 1.0)
    assert result.verdicts == [{"round": 1, "votes": {"42": 3}}]


@pytest.mark.anyio
async def test_rival_verdict_below_flip_confidence_keeps_the_pipeline_answer():
    experts = ScriptedExperts(debaters(judge=prefers("41", 0.7)))
    result = await run(experts, max_rounds=1, flip_confidence=0.8)
    assert (result.status, result.answer, result.changed) == ("verified", "42", False)
    assert result.probability == pytest.approx(0.3) and result.text == AGGREGATED.text
    assert any("flip_confidence" in f for f in result.flags)
    flipped = await run(ScriptedExperts(debaters(judge=prefers("41", 0.7))), max_rounds=1, flip_confidence=0.6)
    assert (flipped.answer, flipped.changed) == ("41", True)
