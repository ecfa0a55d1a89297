"""Per-app state of one simulated vLLM server and the request checks vLLM makes before generating."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import JSONResponse

from orchestrator.protocol import ParameterError, error_response
from services.expert_sim.answers import Answerer, ReplayBook
from services.expert_sim.engine import Engine
from services.expert_sim.faults import FaultInjector
from services.expert_sim.generation import Plan
from services.expert_sim.metrics import SimMetrics
from services.expert_sim.settings import VLLM_VERSION, SimSettings
from services.expert_sim.tokens import split_pieces
from services.expert_sim.verification import GoldBook, VerificationResponder


def error_json(message: str, type_: str, code: int, param: str | None = None) -> JSONResponse:
    return JSONResponse(error_response(message, type_, code, param).model_dump(), status_code=code)


class RequestRejected(Exception):
    """A request vLLM would refuse before generating; carries the error response."""

    def __init__(self, response: JSONResponse):
        self.response = response
        super().__init__(response.body.decode())


@dataclass
class SimState:
    settings: SimSettings
    engine: Engine = field(init=False)
    metrics: SimMetrics = field(init=False)
    answerer: Answerer = field(init=False)
    faults: FaultInjector = field(init=False)
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        digest = hashlib.sha256(repr(s).encode()).hexdigest()[:8]
        self.fingerprint = f"vllm-{VLLM_VERSION}-{digest}"
        self.engine = Engine(s)
        self.metrics = SimMetrics(self.engine, s.model_name)
        book = ReplayBook.load(s.replay, s.expert or s.model_name) if s.replay else None
        gold = GoldBook(path=s.replay) if s.replay else None
        verification = VerificationResponder(s.expert or s.model_name, s.seed, gold)
        self.answerer = Answerer(s.expert or s.model_name, s.seed, book, verification)
        self.faults = FaultInjector(s)

    def check_model(self, model: str | None) -> None:
        names = self.settings.served_model_names
        if model and model not in names:
            message = f"The model `{model}` does not exist. Valid aliases: {', '.join(names)}."
            raise RequestRejected(error_json(message, "NotFoundError", 404, "model"))

    def plan(
        self,
        prompt_tokens: int,
        max_tokens: int | None,
        answer: str,
        stop: str | list[str] | None,
        ignore_eos: bool = False,
    ) -> Plan:
        """vLLM's context rules: refuse a prompt or ``max_tokens`` beyond the context, else clamp."""
        limit = self.settings.max_model_len
        if prompt_tokens > limit:
            # vLLM's tokenizer stops at limit + 1 tokens, so it can only say "at least".
            raise _rejected(
                f"This model's maximum context length is {limit} tokens. However, your prompt contains "
                f"at least {limit + 1} input tokens, which exceeds this limit even without any output tokens. "
                "Please reduce the length of the input prompt.",
                "input_tokens",
                limit + 1,
            )
        if max_tokens is not None and max_tokens > limit:
            raise _rejected(
                f"max_tokens={max_tokens} cannot be greater than max_model_len={limit}. "
                "Please request fewer output tokens.",
                "max_tokens",
                max_tokens,
            )
        room = limit - prompt_tokens
        effective = room if max_tokens is None else min(max_tokens, room)
        if effective < 1:
            raise _rejected(f"max_tokens must be at least 1, got {effective}.", "max_tokens", effective)
        pieces = split_pieces(_cut_at_stop(answer, stop))
        if ignore_eos and pieces:
            # No EOS: the model keeps talking until max_tokens (it repeats itself, as models do).
            pieces = (pieces * (effective // len(pieces) + 1))[:effective]
        return Plan(prompt_tokens, pieces, effective)


def _rejected(message: str, parameter: str, value: int) -> RequestRejected:
    return RequestRejected(
        error_json(str(ParameterError(message, parameter=parameter, value=value)), "BadRequestError", 400, parameter)
    )


def _cut_at_stop(text: str, stop: str | list[str] | None) -> str:
    stops = [stop] if isinstance(stop, str) else (stop or [])
    cut = min((i for s in stops if s and (i := text.find(s)) >= 0), default=-1)
    return text if cut < 0 else text[:cut]


def get_state(request: Request) -> SimState:
    """FastAPI dependency: the state of the app serving this request."""
    return request.app.state.sim
