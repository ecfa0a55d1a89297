"""The official ``openai`` client works against each target exactly as it does against vLLM."""

from __future__ import annotations

import openai
import pytest

from .conftest import Target

pytestmark = pytest.mark.integration


@pytest.fixture
def client(target: Target) -> openai.OpenAI:
    return openai.OpenAI(base_url=target.api_base, api_key="unused", max_retries=0, timeout=60)


def test_openai_client_lists_models(client: openai.OpenAI, target: Target) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == [target.model]
    assert models.data[0].owned_by == "vllm"


def test_openai_client_chat_completion(client: openai.OpenAI, target: Target) -> None:
    out = client.chat.completions.create(
        model=target.model,
        messages=[{"role": "user", "content": "Say hi."}],
        max_tokens=4,
        extra_body={"ignore_eos": True},
    )
    assert out.object == "chat.completion" and out.model == target.model
    assert out.choices[0].finish_reason == "length"
    assert isinstance(out.choices[0].message.content, str)
    assert out.usage is not None and out.usage.completion_tokens == 4


def test_openai_client_streams_chat_with_usage(client: openai.OpenAI, target: Target) -> None:
    stream = client.chat.completions.create(
        model=target.model,
        messages=[{"role": "user", "content": "Count to three."}],
        max_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert isinstance(text, str)


def test_openai_client_raises_not_found_for_unknown_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 404
    assert info.value.body["param"] == "model"  # type: ignore[index]


def test_openai_client_raises_bad_request_for_invalid_input(client: openai.OpenAI, target: Target) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=target.model, messages=[{"role": "user", "content": "hi"}], max_tokens=0)
