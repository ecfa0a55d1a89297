"""The synthesis prompt the aggregator expert receives (our own wording, after Mixture-of-Agents).

The candidate responses go into the system message, numbered; the conversation itself follows
unchanged, so the aggregator answers the user's last turn as if it were the only model.
"""

from __future__ import annotations

__all__ = ["SYNTHESIS_INSTRUCTION", "synthesis_messages"]

SYNTHESIS_INSTRUCTION = (
    "Several assistants have already answered the user's latest message; their answers are "
    "listed below. Write the single best reply to the user. Treat the listed answers as "
    "evidence, not as authority: check their reasoning, keep what is right, correct what is "
    "wrong, and resolve disagreements on the merits rather than by counting. Do not mention "
    "the other assistants or quote them verbatim; reply as yourself, clearly and accurately. "
    "If the question has one definite answer (a choice, a number, a short phrase), finish with "
    "a line of the form 'The answer is X.'"
)


def _render(responses: list[tuple[str, str]]) -> str:
    blocks = [f"[Answer {i}]\n{text.strip()}" for i, (_label, text) in enumerate(responses, start=1)]
    return "\n\n".join(blocks)


def synthesis_messages(messages: list[dict], responses: list[tuple[str, str]]) -> list[dict]:
    """``messages`` with the synthesis instruction and the numbered ``responses`` as system text.

    An existing system message is kept and extended rather than duplicated: several chat
    templates (Gemma's, for one) reject a second system turn.
    """
    guide = f"{SYNTHESIS_INSTRUCTION}\n\n{_render(responses)}"
    if messages and messages[0].get("role") == "system":
        original = messages[0].get("content") or ""
        first = {"role": "system", "content": f"{original}\n\n{guide}" if original else guide}
        return [first, *messages[1:]]
    return [{"role": "system", "content": guide}, *messages]
