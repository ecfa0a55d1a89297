"""``POST /v1/chat/completions`` and ``POST /v1/completions``, JSON and SSE, in vLLM's shapes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response, StreamingResponse

from orchestrator.protocol import (
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatCompletionResponseChoice,
    ChatCompletionStreamChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    CompletionResponseChoice,
    CompletionStreamChoice,
    DeltaMessage,
    ResponseMessage,
    UsageInfo,
    message_text,
    random_id,
    sse_done,
    sse_event,
)
from services.expert_sim.faults import ConnectionDropped, DroppedResponse, FaultPlan
from services.expert_sim.generation import Outcome, Plan, Step, decode
from services.expert_sim.logprob_values import token_logprobs
from services.expert_sim.logprobs import chat_logprobs
from services.expert_sim.sampling_checks import check_sampling
from services.expert_sim.state import RequestRejected, SimState, error_json, get_state
from services.expert_sim.tokens import count_prompt, render_chat, split_pieces
from services.expert_sim.tools import ToolCall, choose_tool_call, tool_choice_refusal

router = APIRouter()

# Non-streaming requests advance the clock in steps of this many tokens (fewer wake-ups).
JSON_TOKENS_PER_STEP = 16


def _last_user_text(body: ChatCompletionRequest) -> str:
    for message in reversed(body.messages):
        if message.role == "user":
            return message_text(message)
    return message_text(body.messages[-1])


def _usage(plan: Plan, outcome: Outcome) -> UsageInfo:
    return UsageInfo(
        prompt_tokens=plan.prompt_tokens,
        completion_tokens=outcome.completion_tokens,
        total_tokens=plan.prompt_tokens + outcome.completion_tokens,
    )


async def _before_generation(state: SimState) -> FaultPlan:
    faults = state.faults.draw()
    if faults.stall:
        await asyncio.sleep(state.settings.stall_s)  # deliberately not scaled by time_scale
    return faults


async def _collect(state: SimState, plan: Plan, outcome: Outcome) -> str:
    parts = [
        step.text
        async for step in decode(state.engine, state.metrics, plan, outcome, tokens_per_step=JSON_TOKENS_PER_STEP)
    ]
    return "".join(parts)


def _json(payload: dict[str, Any], faults: FaultPlan) -> Response:
    if faults.drop:
        return DroppedResponse(JSONResponse(payload).body)
    return JSONResponse(payload)


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatCompletionRequest, state: SimState = Depends(get_state)) -> Response:
    try:
        state.check_model(body.model)
        check_sampling(body)
        prompt_tokens = count_prompt(render_chat(body.messages, body.add_generation_prompt))
        user_text = _last_user_text(body)
        refusal = tool_choice_refusal(body.tools, _tool_choice(body), state.settings.tool_calling)
        if refusal is not None:
            raise RequestRejected(error_json(refusal, "BadRequestError", 400))
        call = choose_tool_call(body.tools, _tool_choice(body), user_text)
        answer = call.arguments if call else state.answerer.answer(user_text)
        plan = state.plan(prompt_tokens, body.requested_max_tokens, answer, body.stop, body.ignore_eos)
    except RequestRejected as exc:
        return exc.response
    faults = await _before_generation(state)
    if faults.error:
        return error_json("Simulated internal server error (fault injection).", "InternalServerError", 500)
    request_id = random_id("chatcmpl")
    extras = _ChatExtras(call, body.top_logprobs or 0 if body.logprobs else None, state.settings.seed)
    if extras.top_logprobs is not None and call is None:
        # Confidence that follows the replay: sure when the recorded answer is right, less when wrong.
        correct = state.answerer.correct(user_text)
        extras.values = token_logprobs(len(split_pieces(answer)), correct, seed=state.settings.seed, expert=state.answerer.expert, prompt=user_text)
    if body.stream:
        return _sse(_chat_events(state, plan, request_id, body.wants_usage_chunk, faults, extras))
    outcome = Outcome()
    text = await _collect(state, plan, outcome)
    finish = outcome.finish_reason if call is None or outcome.finish_reason != "stop" else call.finish_reason
    message = ResponseMessage(content=text) if call is None else ResponseMessage(content=None, tool_calls=[call.message()])
    response = ChatCompletionResponse(
        id=request_id,
        model=state.settings.model_name,
        choices=[
            ChatCompletionResponseChoice(
                index=0, message=message, finish_reason=finish, logprobs=extras.logprobs(split_pieces(text), 0)
            )
        ],
        system_fingerprint=state.fingerprint,
        usage=_usage(plan, outcome),
    )
    return _json(response.model_dump(), faults)


def _tool_choice(body: ChatCompletionRequest) -> Any:
    # vLLM's default is "auto" when tools are given (and "none" without them).
    return body.tool_choice if "tool_choice" in body.model_fields_set else ("auto" if body.tools else "none")


@dataclass
class _ChatExtras:
    """What a chat answer carries besides text: a tool call, and logprobs when asked for."""

    call: ToolCall | None
    top_logprobs: int | None  # None: logprobs not requested
    seed: int
    values: list[float] = field(default_factory=list)  # one logprob per token of the whole answer

    def logprobs(self, tokens: list[str], start: int) -> dict[str, Any] | None:
        if self.top_logprobs is None or self.call is not None:
            return None
        values = self.values[start : start + len(tokens)]
        values += [self.values[-1] if self.values else -0.05] * (len(tokens) - len(values))  # past the planned answer
        return chat_logprobs(tokens, values, self.top_logprobs, start=start, seed=self.seed)

    def delta(self, text: str, first: bool) -> DeltaMessage:
        if self.call is None:
            return DeltaMessage(content=text)
        fn: dict[str, Any] = {"arguments": text}
        if first:
            return DeltaMessage(tool_calls=[{"id": self.call.id, "type": "function", "index": 0, "function": {"name": self.call.name, **fn}}])
        return DeltaMessage(tool_calls=[{"index": 0, "function": fn}])


async def _chat_events(
    state: SimState, plan: Plan, request_id: str, include_usage: bool, faults: FaultPlan, extras: _ChatExtras
) -> AsyncIterator[str]:
    model, created = state.settings.model_name, int(time.time())
    outcome = Outcome()
    sent = 0
    gap = state.settings.slow_stream_ms / 1000
    async for step in decode(state.engine, state.metrics, plan, outcome, extra_gap_s=gap):
        if sent == 0:
            # The role chunk goes out after prefill, together with the first token.
            role = ChatCompletionChunk(
                id=request_id, created=created, model=model, choices=[_chat_choice("", role="assistant")]
            )
            role.prompt_token_ids = role.prompt_text = None
            yield sse_event(role)
        choice = _chat_choice(step.text, step)
        if step.text or sent == 0:
            choice.delta = extras.delta(step.text, first=sent == 0)
        if step.finish_reason is not None and extras.call is not None and step.finish_reason == "stop":
            choice.finish_reason = extras.call.finish_reason
        lp = extras.logprobs(split_pieces(step.text), outcome.completion_tokens - step.tokens) if step.text else None
        if lp is not None:
            choice.logprobs = lp
        chunk = ChatCompletionChunk(id=request_id, created=created, model=model, choices=[choice])
        if step.finish_reason is not None and not include_usage:
            chunk.system_fingerprint = state.fingerprint
        yield sse_event(chunk)
        sent += 1
        if faults.drop and sent >= 2:
            raise ConnectionDropped("simulated dropped connection mid-stream")
    if include_usage:
        usage = ChatCompletionChunk(
            id=request_id, created=created, model=model, choices=[], usage=_usage(plan, outcome)
        )
        usage.system_fingerprint = state.fingerprint
        yield sse_event(usage, exclude_none=True)
    yield sse_done()


def _chat_choice(text: str, step: Step | None = None, role: str | None = None) -> ChatCompletionStreamChoice:
    delta = DeltaMessage(role=role, content=text) if role else DeltaMessage(content=text)
    choice = ChatCompletionStreamChoice(index=0, delta=delta, logprobs=None, finish_reason=None)
    if step is not None:
        if step.finish_reason is not None:
            choice.finish_reason = step.finish_reason
            choice.stop_reason = None
        choice.token_ids = None
    return choice


@router.post("/v1/completions")
async def completions(body: CompletionRequest, state: SimState = Depends(get_state)) -> Response:
    prompt = body.prompt if isinstance(body.prompt, str) else " ".join(str(p) for p in (body.prompt or []))
    try:
        state.check_model(body.model)
        check_sampling(body)
        answer = state.answerer.answer(prompt)
        plan = state.plan(count_prompt(prompt), body.requested_max_tokens, answer, body.stop, body.ignore_eos)
    except RequestRejected as exc:
        return exc.response
    faults = await _before_generation(state)
    if faults.error:
        return error_json("Simulated internal server error (fault injection).", "InternalServerError", 500)
    request_id = random_id("cmpl")
    if body.stream:
        return _sse(_completion_events(state, plan, request_id, body.wants_usage_chunk, faults))
    outcome = Outcome()
    text = await _collect(state, plan, outcome)
    response = CompletionResponse(
        id=request_id,
        model=state.settings.model_name,
        choices=[CompletionResponseChoice(index=0, text=text, finish_reason=outcome.finish_reason)],
        system_fingerprint=state.fingerprint,
        usage=_usage(plan, outcome),
    )
    return _json(response.model_dump(), faults)


async def _completion_events(
    state: SimState, plan: Plan, request_id: str, include_usage: bool, faults: FaultPlan
) -> AsyncIterator[str]:
    model, created = state.settings.model_name, int(time.time())
    outcome = Outcome()
    sent = 0
    gap = state.settings.slow_stream_ms / 1000
    async for step in decode(state.engine, state.metrics, plan, outcome, extra_gap_s=gap):
        choice = CompletionStreamChoice(
            index=0, text=step.text, logprobs=None, finish_reason=step.finish_reason, stop_reason=None,
            prompt_token_ids=None, token_ids=None,
        )  # fmt: skip
        chunk = CompletionChunk(id=request_id, created=created, model=model, choices=[choice])
        if step.finish_reason is not None and not include_usage:
            chunk.system_fingerprint = state.fingerprint
        yield sse_event(chunk)
        sent += 1
        if faults.drop and sent >= 2:
            raise ConnectionDropped("simulated dropped connection mid-stream")
    if include_usage:
        usage = CompletionChunk(id=request_id, created=created, model=model, choices=[], usage=_usage(plan, outcome))
        usage.system_fingerprint = state.fingerprint
        yield sse_event(usage, exclude_none=True)
    yield sse_done()


def _sse(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream")
