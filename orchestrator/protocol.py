"""The OpenAI wire protocol as vLLM 0.33 speaks it: requests, responses, stream chunks, errors.

One set of pydantic models shared by everything that reads or writes OpenAI-compatible JSON
(the gateway and the vLLM simulator). They follow vLLM's own models
(``vllm/entrypoints/openai/*/protocol.py``): every model allows unknown fields
(``extra="allow"``, vLLM only logs them), optional keys are present as ``null`` in a
non-streaming response, and stream chunks are serialised with ``exclude_unset=True`` so a
chunk carries exactly the keys vLLM would send (see :func:`sse_event`).

Nothing here knows about experts or routing; the helpers at the bottom are pure formatting.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

__all__ = [
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatCompletionResponse",
    "ChatCompletionResponseChoice",
    "ChatCompletionStreamChoice",
    "ChatMessage",
    "CompletionChunk",
    "CompletionRequest",
    "CompletionResponse",
    "CompletionResponseChoice",
    "CompletionStreamChoice",
    "DeltaMessage",
    "EmbeddingRequest",
    "ErrorInfo",
    "ErrorResponse",
    "FinishReason",
    "ModelCard",
    "ModelList",
    "ModelPermission",
    "OpenAIBaseModel",
    "ParameterError",
    "ResponseMessage",
    "StreamOptions",
    "TokenizeRequest",
    "TokenizeResponse",
    "UsageInfo",
    "error_response",
    "message_text",
    "random_id",
    "sse_done",
    "sse_event",
]

FinishReason = Literal["stop", "length", "tool_calls", "abort", "error", "repetition"]


def random_id(prefix: str) -> str:
    """vLLM's id format (0.32): ``chatcmpl-<16 hex>``, ``cmpl-<16 hex>``, ``modelperm-<16 hex>``."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


class ParameterError(ValueError):
    """A request parameter vLLM rejects with ``BadRequestError`` naming the parameter.

    Formats like vLLM's ``VLLMValidationError``: ``"<message> (parameter=p, value=v)"``.
    Raised inside validators, it reaches an app's ``RequestValidationError`` handler as
    ``error["ctx"]["error"]``, so the handler can answer exactly as vLLM does.
    """

    def __init__(self, message: str, *, parameter: str | None = None, value: Any = None):
        super().__init__(message)
        self.parameter = parameter
        self.value = value

    def __str__(self) -> str:
        extras = [f"{k}={v}" for k, v in (("parameter", self.parameter), ("value", self.value)) if v is not None]
        base = super().__str__()
        return f"{base} ({', '.join(extras)})" if extras else base


class OpenAIBaseModel(BaseModel):
    """Base of every wire model: unknown fields are kept, never rejected (as in vLLM)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# --------------------------------------------------------------------------- requests


class ChatMessage(OpenAIBaseModel):
    """One message of a chat request. ``content`` is a string or a list of content parts."""

    role: str
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class StreamOptions(OpenAIBaseModel):
    # Since vLLM 0.18 an absent include_usage means false.
    include_usage: bool | None = False
    continuous_usage_stats: bool | None = False


class _SamplingFields(OpenAIBaseModel):
    """Fields shared by chat and text completions (OpenAI's plus the vLLM extras we honour)."""

    model: str | None = None
    max_tokens: int | None = None
    n: int = Field(default=1, ge=1)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = 0.0
    frequency_penalty: float | None = 0.0
    logit_bias: dict[str, float] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    user: str | None = None
    # vLLM extras
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    ignore_eos: bool = False
    min_tokens: int = Field(default=0, ge=0)
    priority: int = 0
    request_id: str | None = None

    @field_validator("max_tokens", "max_completion_tokens", mode="after", check_fields=False)
    @classmethod
    def _at_least_one(cls, value: int | None, info: Any) -> int | None:
        if value is not None and value < 1:
            raise ParameterError(
                f"{info.field_name} must be at least 1, got {value}.", parameter=info.field_name, value=value
            )
        return value

    @model_validator(mode="after")
    def _stream_options_need_stream(self) -> _SamplingFields:
        if self.stream_options is not None and not self.stream:
            raise ParameterError("Stream options can only be defined when `stream=True`.", parameter="stream_options")
        return self

    @property
    def wants_usage_chunk(self) -> bool:
        return bool(self.stream and self.stream_options and self.stream_options.include_usage)


class ChatCompletionRequest(_SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = None
    logprobs: bool | None = False
    top_logprobs: int | None = Field(default=0, ge=0)
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = "none"
    reasoning_effort: str | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    add_generation_prompt: bool = True

    @property
    def requested_max_tokens(self) -> int | None:
        """``max_completion_tokens`` wins over the deprecated ``max_tokens`` (as in vLLM)."""
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_SamplingFields):
    prompt: str | list[str] | list[int] | None = None
    echo: bool | None = False
    logprobs: int | None = None
    suffix: str | None = None

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_tokens


class EmbeddingRequest(OpenAIBaseModel):
    """``POST /v1/embeddings`` (OpenAI's fields; vLLM serves it for pooling models)."""

    model: str | None = None
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None


class TokenizeRequest(OpenAIBaseModel):
    """``POST /tokenize``: either a raw ``prompt`` or chat ``messages``."""

    model: str | None = None
    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    add_special_tokens: bool = True
    add_generation_prompt: bool = True
    return_token_strs: bool | None = False

    @model_validator(mode="after")
    def _one_input(self) -> TokenizeRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("exactly one of 'prompt' and 'messages' must be given")
        return self


# --------------------------------------------------------------------------- responses


class UsageInfo(OpenAIBaseModel):
    prompt_tokens: int = 0
    total_tokens: int = 0
    completion_tokens: int | None = 0
    prompt_tokens_details: dict[str, int] | None = None
    completion_tokens_details: dict[str, int] | None = None


class ResponseMessage(OpenAIBaseModel):
    """The assistant message of a non-streaming chat response (null keys included, as vLLM).

    An empty ``tool_calls`` list is left out of the JSON, as vLLM ≥ 0.30 does.
    """

    role: str = "assistant"
    content: str | None = None
    refusal: str | None = None
    annotations: Any | None = None
    audio: Any | None = None
    function_call: Any | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    reasoning: str | None = None

    @model_serializer(mode="wrap")
    def _drop_empty_tool_calls(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if not data.get("tool_calls"):
            data.pop("tool_calls", None)
        return data


class ChatCompletionResponseChoice(OpenAIBaseModel):
    index: int = 0
    message: ResponseMessage
    logprobs: Any | None = None
    finish_reason: str | None = "stop"
    stop_reason: int | str | None = None
    token_ids: list[int] | None = None
    routed_experts: str | None = None


class ChatCompletionResponse(OpenAIBaseModel):
    id: str = Field(default_factory=lambda: random_id("chatcmpl"))
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatCompletionResponseChoice]
    service_tier: str | None = None
    system_fingerprint: str | None = None
    usage: UsageInfo
    prompt_logprobs: Any | None = None
    prompt_token_ids: list[int] | None = None
    prompt_text: str | None = None
    kv_transfer_params: dict[str, Any] | None = None
    ec_transfer_params: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None


class DeltaMessage(OpenAIBaseModel):
    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class _IndexedChoice(OpenAIBaseModel):
    """A stream choice: ``index`` is required by OpenAI's schema, so it is always sent."""

    index: int = 0

    def model_post_init(self, context: Any, /) -> None:
        self.__pydantic_fields_set__.add("index")  # sent even with exclude_unset (the SDK's .stream() needs it)


class ChatCompletionStreamChoice(_IndexedChoice):
    delta: DeltaMessage
    logprobs: Any | None = None
    finish_reason: str | None = None
    stop_reason: int | str | None = None
    token_ids: list[int] | None = None


class ChatCompletionChunk(OpenAIBaseModel):
    """One SSE chunk; serialise with ``exclude_unset=True`` (:func:`sse_event`).

    vLLM sets ``prompt_token_ids``/``prompt_text`` (null) on the first chunk only, and
    ``system_fingerprint`` on the last chunk before ``[DONE]``.
    """

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatCompletionStreamChoice] = Field(default_factory=list)
    usage: UsageInfo | None = None
    system_fingerprint: str | None = None
    prompt_token_ids: list[int] | None = None
    prompt_text: str | None = None

    def model_post_init(self, context: Any, /) -> None:
        self.__pydantic_fields_set__.add("object")  # always sent, even with exclude_unset


class CompletionResponseChoice(OpenAIBaseModel):
    index: int = 0
    text: str
    logprobs: Any | None = None
    finish_reason: str | None = None
    stop_reason: int | str | None = None
    token_ids: list[int] | None = None
    prompt_logprobs: Any | None = None
    prompt_token_ids: list[int] | None = None
    routed_experts: str | None = None


class CompletionResponse(OpenAIBaseModel):
    id: str = Field(default_factory=lambda: random_id("cmpl"))
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[CompletionResponseChoice]
    service_tier: str | None = None
    system_fingerprint: str | None = None
    usage: UsageInfo
    kv_transfer_params: dict[str, Any] | None = None
    ec_transfer_params: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None


class CompletionStreamChoice(_IndexedChoice):
    text: str
    logprobs: Any | None = None
    finish_reason: str | None = None
    stop_reason: int | str | None = None
    prompt_token_ids: list[int] | None = None
    token_ids: list[int] | None = None


class CompletionChunk(OpenAIBaseModel):
    """A ``/v1/completions`` stream chunk; serialise with ``exclude_unset=True`` like chat chunks."""

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionStreamChoice] = Field(default_factory=list)
    usage: UsageInfo | None = None
    system_fingerprint: str | None = None

    def model_post_init(self, context: Any, /) -> None:
        self.__pydantic_fields_set__.add("object")  # always sent, even with exclude_unset


class TokenizeResponse(OpenAIBaseModel):
    count: int
    max_model_len: int
    tokens: list[int]
    token_strs: list[str] | None = None


class ModelPermission(OpenAIBaseModel):
    id: str = Field(default_factory=lambda: random_id("modelperm"))
    object: Literal["model_permission"] = "model_permission"
    created: int = Field(default_factory=lambda: int(time.time()))
    allow_create_engine: bool = False
    allow_sampling: bool = True
    allow_logprobs: bool = True
    allow_search_indices: bool = False
    allow_view: bool = True
    allow_fine_tuning: bool = False
    organization: str = "*"
    group: str | None = None
    is_blocking: bool = False


class ModelCard(OpenAIBaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=lambda: int(time.time()))
    owned_by: str = "vllm"
    root: str | None = None
    parent: str | None = None
    max_model_len: int | None = None
    permission: list[ModelPermission] = Field(default_factory=lambda: [ModelPermission()])


class ModelList(OpenAIBaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard] = Field(default_factory=list)


# --------------------------------------------------------------------------- errors


class ErrorInfo(OpenAIBaseModel):
    message: str
    type: str
    param: str | None = None
    code: int


class ErrorResponse(OpenAIBaseModel):
    """vLLM ≥ 0.10.1's envelope: ``{"error": {message, type, param, code}}``; HTTP status = code."""

    error: ErrorInfo


def error_response(message: str, type_: str, code: int, param: str | None = None) -> ErrorResponse:
    return ErrorResponse(error=ErrorInfo(message=message, type=type_, param=param, code=code))


# --------------------------------------------------------------------------- helpers


def message_text(message: ChatMessage) -> str:
    """The text of a message: a string, or the ``text`` parts of a content list joined."""
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    return "\n".join(str(p.get("text", "")) for p in message.content if p.get("type", "text") == "text")


def sse_event(chunk: BaseModel, *, exclude_unset: bool = True, exclude_none: bool = False) -> str:
    """One server-sent event, ``data: <json>\\n\\n``, serialised the way vLLM does it."""
    return f"data: {chunk.model_dump_json(exclude_unset=exclude_unset, exclude_none=exclude_none)}\n\n"


def sse_done() -> str:
    return "data: [DONE]\n\n"
