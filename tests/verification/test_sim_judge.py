"""The simulator as judge and debater: its declared accuracies hold, and a debate runs through
the real expert client against simulated vLLM servers."""

import json
import re
from pathlib import Path

import httpx
import pytest

from orchestrator.config import VerificationSettings, parse_config
from orchestrator.experts.client import ExpertClient
from orchestrator.verification import Aggregated, Candidate, Verifier
from orchestrator.verification.prompts import Turn, agent_messages, debater_messages, judge_messages
from services.expert_sim import SimSettings, create_app
from services.expert_sim.verification import GoldBook, JudgeModel, VerificationResponder

N = 600


def _book() -> GoldBook:
    return GoldBook({f"Question number {i}: which option?": {"C"} for i in range(N)})


def _p_first(responder: VerificationResponder, question: str, first: str, second: str, turns) -> float:
    reply = responder.respond(judge_messages(question, first, second, turns)[0]["content"])
    return float(re.fullmatch(r"P\(A\)=([\d.]+)", reply).group(1))


@pytest.mark.parametrize(("debate", "declared"), [(True, JudgeModel().accuracy_debate), (False, JudgeModel().accuracy_consultancy)])
def test_simulated_judge_reaches_its_declared_accuracy_after_full_rounds(debate, declared):
    judge = VerificationResponder("judge", seed=1, gold=_book())
    speakers = ("A", "B") if debate else ("A",)
    turns = [Turn(r, s, "...") for r in (1, 2, 3) for s in speakers]
    right = 0
    for i in range(N):
        q = f"Question number {i}: which option?"
        p = (_p_first(judge, q, "C", "D", turns) + 1 - _p_first(judge, q, "D", "C", turns)) / 2
        right += p > 0.5
    assert right / N == pytest.approx(declared, abs=0.04)


def test_simulated_judge_favours_the_first_answer_shown_by_its_declared_bias():
    judge = VerificationResponder("judge", seed=1, gold=_book())
    turns = [Turn(1, "A", "..."), Turn(1, "B", "...")]
    q = "Question number 3: which option?"
    forward, backward = _p_first(judge, q, "C", "D", turns), _p_first(judge, q, "D", "C", turns)
    assert forward + backward == pytest.approx(1 + 2 * JudgeModel().position_bias, abs=0.011)


def test_simulated_debater_quotes_the_question_and_defends_its_answer():
    debater = VerificationResponder("alpha", gold=_book())
    q = "Question number 5: which option?"
    speech = debater.respond(debater_messages(q, "C", "D", "A", [], word_limit=60)[0]["content"])
    assert speech.endswith("The answer is C.") and len(speech.split()) <= 60
    assert re.search(r"<quote>(.*?)</quote>", speech).group(1) in q


def test_simulated_agent_is_persuaded_only_when_outnumbered():
    agent = VerificationResponder("alpha", gold=_book(), model=JudgeModel(switch_if_wrong=1.0))
    q = "Question number 9: which option?"
    alone = agent.respond(agent_messages(q, "The answer is D.", ["The answer is C.", "The answer is C."], round_no=1)[0]["content"])
    backed = agent.respond(agent_messages(q, "The answer is D.", ["The answer is C.", "The answer is D."], round_no=1)[0]["content"])
    assert alone.endswith("The answer is C.") and backed.endswith("The answer is D.")


class _Hosts(httpx.AsyncBaseTransport):
    """One in-process simulated vLLM server per host name."""

    def __init__(self, apps):
        self.transports = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request):
        return await self.transports[request.url.host].handle_async_request(request)


@pytest.mark.anyio
async def test_debate_runs_through_the_expert_client_against_simulated_servers(tmp_path: Path):
    question = "Which planet is known as the red planet?\n(A) Venus\n(B) Mars\n(C) Jupiter"
    row = {"id": "q1", "prompt": question, "experts": {"alpha": {"score": 1.0, "answer": "B"}, "beta": {"score": 0.0, "answer": "A"}}}
    data = tmp_path / "replay.jsonl"
    data.write_text(json.dumps(row) + "\n")
    names = ("alpha", "beta", "judge")
    config = parse_config(
        "experts:\n"
        + "".join(
            f"  - {{name: {n}, model: hosted_vllm/org/{n}, api_base: 'http://{n}.test/v1', roles: [expert, aggregator, judge], max_retries: 0}}\n"
            for n in names
        )
    )
    apps = {f"{n}.test": create_app(SimSettings(served_model_names=(f"org/{n}",), expert=n, replay=data, time_scale=0.0)) for n in names}
    client = ExpertClient(config, http_client=httpx.AsyncClient(transport=_Hosts(apps)))
    candidates = [Candidate("alpha", "Mars is red. The answer is B.", "B"), Candidate("beta", "The answer is A.", "A")]
    verifier = Verifier(VerificationSettings(), client.complete, "judge", {n: config.expert(n).price for n in names})
    result = await verifier.verify(question, candidates, Aggregated("B", candidates[0].text))
    assert result.status == "verified" and result.rounds >= 1
    assert all(q["verified"] for turn in result.transcript for q in turn["quotes"] if turn["expert"] == "alpha")
    assert result.spend.calls == result.rounds * 4 and result.spend.prompt_tokens > 0
