"""The retrieval gate in the pipeline: overrides, citations, the learned gate, drafts, multi-step,
index choice, and a store that is down. Experts are the pipeline tests' in-process doubles; the
index, the embeddings and the gate are real."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from orchestrator.pipeline import Pipeline, RequestOptions
from orchestrator.retrieval.gate import DraftGate, QueryGate
from orchestrator.retrieval.index import open_index
from orchestrator.retrieval.service import Retriever
from pipeline.fakes import FakeExperts, RankedRouter, make_config

from .test_ingest import KIWI, PARIS, PYTHON, _closed_port, _write_corpus

BIRD_Q = [{"role": "user", "content": "Which bird cannot fly and lives in New Zealand?"}]


def _pipeline(experts, retriever):
    return Pipeline(make_config(), RankedRouter(k=1), experts, retriever=retriever)


@pytest.fixture
def built(store_settings, embedder, tmp_path):
    """An index named `kb` over the three-document corpus."""
    open_index(store_settings, "kb", embedder, create=True).ingest([_write_corpus(tmp_path / "docs")])
    return store_settings.model_copy(update={"enabled": True, "index": "kb", "top_k": 2, "min_score": -1.0})


def _retrieval_event(result):
    return next(e for e in result.trace.events if e.step == "retrieval").decision


@pytest.mark.anyio
async def test_always_puts_numbered_passages_into_the_expert_prompt_and_the_trace(built, embedder):
    experts = FakeExperts({"alpha": "The kiwi [1]."})
    result = await _pipeline(experts, Retriever(built, embedder=embedder)).run(BIRD_Q, RequestOptions(retrieval="always"))
    prompt = experts.calls[0][1][-1]["content"]
    assert "[1] kiwi:" in prompt and "flightless" in prompt and "cite them like [1]" in prompt
    assert prompt.endswith("Question: Which bird cannot fly and lives in New Zealand?")
    event = _retrieval_event(result)
    assert event["mode"] == "always" and event["strategy"] == "single" and event["retrieved"] is True
    assert event["sources"][0]["n"] == 1 and event["sources"][0]["source"].endswith("kiwi.md")
    assert event["passages"][0]["score"] >= event["passages"][1]["score"] and "flightless" in event["passages"][0]["text"]


@pytest.mark.anyio
async def test_never_leaves_the_prompt_alone(built, embedder):
    experts = FakeExperts({"alpha": "A kiwi."})
    result = await _pipeline(experts, Retriever(built, embedder=embedder)).run(BIRD_Q, RequestOptions(retrieval="never"))
    assert experts.calls[0][1] == BIRD_Q
    assert _retrieval_event(result) | {"retrieval_ms": 0} == {"mode": "never", "strategy": "no_retrieval", "retrieved": False, "steps": 0, "reason": "retrieval: never", "retrieval_ms": 0}


@pytest.mark.anyio
async def test_a_store_that_is_down_answers_without_retrieval_and_says_so(built, embedder, tmp_path):
    if built.store == "milvus":
        down = built.model_copy(update={"milvus": built.milvus.model_copy(update={"uri": f"http://127.0.0.1:{_closed_port()}", "timeout_s": 1.0})})
    else:
        # The database file's place is taken by a folder: SQLite cannot open it at all.
        shutil.rmtree(tmp_path / "indices" / "kb")
        (tmp_path / "indices" / "kb" / "chunks.sqlite").mkdir(parents=True)
        down = built
    experts = FakeExperts({"alpha": "A kiwi."})
    result = await _pipeline(experts, Retriever(down, embedder=embedder)).run(BIRD_Q, RequestOptions(retrieval="always"))
    assert result.text == "A kiwi." and experts.calls[0][1] == BIRD_Q
    event = _retrieval_event(result)
    assert event["degraded"] is True and event["retrieved"] is False and event["error"]


def _gate(embedder):
    """A real QueryGate fit on labelled questions: retrieval helps on factual lookups, hurts on chit-chat."""
    lookups = ["Which bird cannot fly?", "Who created Python?", "When was the Eiffel Tower built?", "What is the capital of France?",
               "Which animal lays a large egg?", "What year was Python released?"]
    chat = ["Tell me a joke", "How are you today?", "Write a haiku about rain", "Say hello politely", "What is your favourite colour?", "Good morning!"]
    X = embedder.encode(lookups + chat)
    Y = np.array([[0, 1, 1]] * len(lookups) + [[1, 0, 0]] * len(chat))
    return QueryGate(C=10.0).fit(X, Y), X, Y


@pytest.mark.anyio
async def test_auto_asks_the_trained_gate_per_request(built, embedder):
    gate, _, _ = _gate(embedder)
    retriever = Retriever(built.model_copy(update={"max_steps": 1}), embedder=embedder, gate={"query_gate": gate, "draft_gate": None})
    experts = FakeExperts({"alpha": "ok"})
    fact = await _pipeline(experts, retriever).run([{"role": "user", "content": "Who invented the Python language?"}])
    chat = await _pipeline(experts, retriever).run([{"role": "user", "content": "Tell me something funny"}])
    assert _retrieval_event(fact)["strategy"] == "single" and _retrieval_event(fact)["retrieved"]
    assert _retrieval_event(fact)["gate"]["p_correct"]["single"] > _retrieval_event(fact)["gate"]["p_correct"]["no_retrieval"]
    assert _retrieval_event(chat)["strategy"] == "no_retrieval" and "Sources" not in experts.calls[-1][1][-1]["content"]


class LogprobExperts(FakeExperts):
    """Attaches OpenAI-style token logprobs: confident (p~0.95) or unsure (p~0.2) per expert."""

    def __init__(self, answers, confidence):
        super().__init__(answers)
        self.confidence = confidence

    async def __call__(self, expert, messages, params):
        completion = await super().__call__(expert, messages, params)
        if params.get("logprobs"):
            lp = float(np.log(self.confidence))
            completion = dataclasses.replace(completion)
            completion.logprobs = {"content": [{"token": "x", "logprob": lp, "top_logprobs": [{"token": "x", "logprob": lp}]}] * 5}
        return completion


def _draft_gate(gate, X, Y):
    """A DraftGate fit on [query gate P, log perplexity]: low perplexity means no retrieval needed."""
    P = np.vstack([gate.predict_proba(X)] * 2)
    ppl = np.r_[np.full(len(X), np.log(1.05)), np.full(len(X), np.log(5.0))]
    Yd = np.vstack([np.tile([1, 0, 0], (len(X), 1)), np.tile([0, 1, 1], (len(X), 1))])
    return DraftGate(C=10.0).fit(np.column_stack([P, ppl]), Yd)


@pytest.mark.anyio
@pytest.mark.parametrize("confidence, retrieves", [(0.95, False), (0.2, True)])
async def test_a_confident_draft_is_the_answer_and_an_unsure_one_triggers_retrieval(built, embedder, confidence, retrieves):
    gate, X, Y = _gate(embedder)
    settings = built.model_copy(update={"draft": True, "max_steps": 1})
    retriever = Retriever(settings, embedder=embedder, gate={"query_gate": gate, "draft_gate": _draft_gate(gate, X, Y)})
    experts = LogprobExperts({"alpha": "The kiwi."}, confidence)
    result = await _pipeline(experts, retriever).run(BIRD_Q)
    event = _retrieval_event(result)
    assert "draft" in event["gate"]["signals"] and event["retrieved"] is retrieves
    assert len(experts.calls) == 2 if retrieves else len(experts.calls) == 1  # a kept draft is not asked again
    assert result.text == "The kiwi."
    assert experts.calls[0][2]["logprobs"] is True


@pytest.mark.anyio
async def test_multi_step_retrieves_again_with_the_reasoning_up_to_the_step_cap(built, embedder):
    gate, _, _ = _gate(embedder)
    gate.models_[1] = 0.0  # single never right, multi always: the gate picks multi-step
    gate.models_[2] = 1.0
    settings = built.model_copy(update={"max_steps": 3, "top_k": 1})
    experts = FakeExperts({"alpha": "It is the kiwi, which lives in New Zealand; Python was created by Guido van Rossum."})
    result = await _pipeline(experts, Retriever(settings, embedder=embedder, gate={"query_gate": gate, "draft_gate": None})).run(BIRD_Q)
    event = _retrieval_event(result)
    assert event["strategy"] == "multi" and 2 <= event["steps"] <= 3
    assert len(event["sources"]) >= 2 and len({(s["source"], s["chunk"]) for s in event["sources"]}) == len(event["sources"])
    assert len(experts.calls) == event["steps"]  # one reasoning call per extra step, then the answer
    assert f"retrieval step {event['steps']}" in experts.calls[-1][1][-1]["content"]


@pytest.mark.anyio
async def test_the_index_closest_to_the_query_is_chosen(store_settings, embedder, tmp_path):
    (tmp_path / "birds").mkdir()
    (tmp_path / "birds" / "kiwi.txt").write_text(KIWI)
    (tmp_path / "birds" / "owl.txt").write_text("Owls are nocturnal birds of prey with silent flight and excellent night vision.")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "python.txt").write_text(PYTHON)
    (tmp_path / "code" / "rust.txt").write_text("Rust is a systems programming language focused on memory safety without garbage collection.")
    open_index(store_settings, "birds", embedder, create=True).ingest([tmp_path / "birds"])
    open_index(store_settings, "code", embedder, create=True).ingest([tmp_path / "code"])
    assert PARIS  # the corpus above is not used here
    retriever = Retriever(store_settings.model_copy(update={"enabled": True, "indices": ["birds", "code"]}), embedder=embedder)
    experts = FakeExperts({"alpha": "ok"})
    bird = await _pipeline(experts, retriever).run(BIRD_Q, RequestOptions(retrieval="always"))
    code = await _pipeline(experts, retriever).run([{"role": "user", "content": "Which programming language avoids garbage collection?"}], RequestOptions(retrieval="always"))
    assert _retrieval_event(bird)["index"] == "birds" and _retrieval_event(code)["index"] == "code"
    pinned = await _pipeline(experts, retriever).run(BIRD_Q, RequestOptions(retrieval="always", index="code"))
    assert _retrieval_event(pinned)["index"] == "code"
