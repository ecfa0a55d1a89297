"""A cheap, deterministic stand-in for a tokenizer: about four characters per token.

Counts only have to be plausible and stable (usage, context-length errors, the latency
model); the pieces are what the stream sends, so joining them gives back the text exactly.
"""

from __future__ import annotations

import re
import zlib

from orchestrator.protocol import ChatMessage, message_text

CHARS_PER_TOKEN = 4
VOCAB_SIZE = 32_000
BOS_ID = 1

_WORDS = re.compile(r"\s*\S+|\s+")


def split_pieces(text: str) -> list[str]:
    """Split text into token-sized pieces (words, long words cut every 4 characters)."""
    pieces: list[str] = []
    for word in _WORDS.findall(text):
        pieces.extend(word[i : i + CHARS_PER_TOKEN + 1] for i in range(0, len(word), CHARS_PER_TOKEN + 1))
    return pieces


def count_text(text: str) -> int:
    return len(split_pieces(text))


def render_chat(messages: list[ChatMessage], add_generation_prompt: bool = True) -> str:
    """A plain chat template, so chat prompts pay for role markers as they do in vLLM."""
    text = "".join(f"<|{m.role}|> {message_text(m)} <|end|> " for m in messages)
    return text + ("<|assistant|> " if add_generation_prompt else "")


def prompt_ids(text: str, add_bos: bool = True) -> list[int]:
    """Stable fake token ids (BOS first) for ``/tokenize`` and ``prompt_token_ids``."""
    ids = [zlib.crc32(p.encode()) % VOCAB_SIZE for p in split_pieces(text)]
    return [BOS_ID, *ids] if add_bos else ids


def count_prompt(text: str, add_bos: bool = True) -> int:
    return count_text(text) + (1 if add_bos else 0)
