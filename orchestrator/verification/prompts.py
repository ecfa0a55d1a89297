"""The messages debaters, consultants, agents and the judge receive (our own wording).

Every prompt is one user message (some chat templates, Gemma's among them, refuse a system
role) whose first line names the role, and whose material sits in plain tags (``<question>``,
``<answer label="A">``, ``<transcript>``) so that a small model, and the simulator, can find it.
The judge is asked for a single line ``P(A)=0.7``; :mod:`orchestrator.verification.judge`
parses it tolerantly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AGENT_OPENING",
    "CONSULTANT_OPENING",
    "DEBATER_OPENING",
    "JUDGE_OPENING",
    "JUDGE_REASK",
    "Turn",
    "agent_messages",
    "debater_messages",
    "judge_messages",
]

DEBATER_OPENING = "Role: debater in a two-sided debate about the answer to a question."
CONSULTANT_OPENING = "Role: consultant arguing for one answer to a question."
JUDGE_OPENING = "Role: judge deciding which of two answers to a question is correct."
AGENT_OPENING = "Role: one of several agents solving the same question together."
JUDGE_REASK = "Your reply did not contain a line of the form P(A)=<number>. Reply with that one line only, for example P(A)=0.65"


@dataclass(frozen=True)
class Turn:
    """One speech as the judge sees it (quotes already marked verified or not)."""

    round: int
    speaker: str
    """``A`` or ``B``: the label of the answer the speaker defends."""
    text: str


def _answers(a: str, b: str) -> str:
    return f'<answer label="A">{a}</answer>\n<answer label="B">{b}</answer>'


def _transcript(turns: Sequence[Turn], labels: dict[str, str] | None = None) -> str:
    if not turns:
        return "<transcript>\n(no speeches yet)\n</transcript>"
    body = "\n".join(
        f'<turn round="{t.round}" speaker="{(labels or {}).get(t.speaker, t.speaker)}">\n{t.text}\n</turn>' for t in turns
    )
    return f"<transcript>\n{body}\n</transcript>"


def _evidence(passages: Sequence[str], own_work: str | None) -> str:
    parts = [f"<passage>\n{p}\n</passage>" for p in passages]
    if own_work:
        parts.append(f"<your_earlier_work>\n{own_work}\n</your_earlier_work>")
    return "\n".join(parts)


def debater_messages(
    question: str,
    own: str,
    other: str,
    own_label: str,
    turns: Sequence[Turn],
    *,
    word_limit: int,
    passages: Sequence[str] = (),
    own_work: str | None = None,
    consultant: bool = False,
) -> list[dict[str, str]]:
    """A debater (or, with ``consultant``, a lone consultant) defends ``own`` against ``other``."""
    other_label = "B" if own_label == "A" else "A"
    opening = CONSULTANT_OPENING if consultant else DEBATER_OPENING
    rival = (
        f"A judge will decide between your answer and answer {other_label}; nobody argues for {other_label}."
        if consultant
        else f"Another debater defends answer {other_label}. Answer their points where you can."
    )
    text = f"""{opening}
You defend answer {own_label}: {own}
{rival}
The judge reads only the question, the two answers and the transcript. Give the strongest honest case
for your answer in at most {word_limit} words. To cite the question or a passage, copy the words exactly
between <quote> and </quote>; every quote is checked against the source and shown to the judge as
verified or unverified. End with the line: The answer is {own}.

<question>
{question}
</question>
{_answers(own if own_label == "A" else other, other if own_label == "A" else own)}
<you_defend>{own_label}</you_defend>
{_evidence(passages, own_work)}
{_transcript(turns)}"""
    return [{"role": "user", "content": text}]


def judge_messages(question: str, a: str, b: str, turns: Sequence[Turn], *, swapped: bool = False) -> list[dict[str, str]]:
    """The judge's view. ``swapped``: the answers were presented in the other order, so the
    speakers' labels are swapped too (the caller maps the probability back)."""
    labels = {"A": "B", "B": "A"} if swapped else None
    text = f"""{JUDGE_OPENING}
Read the question, the two candidate answers and the speeches below. Speakers may be wrong or may try to
mislead; a quote marked status="verified" really appears in the question or the sources, an unverified
one may be invented. Decide how likely answer A is to be the correct one.
Reply with exactly one line and nothing else: P(A)=<probability between 0 and 1>

<question>
{question}
</question>
{_answers(a, b)}
{_transcript(turns, labels)}

Your one line (for example P(A)=0.8):"""
    return [{"role": "user", "content": text}]


def agent_messages(question: str, own_response: str, peers: Sequence[str], *, round_no: int) -> list[dict[str, str]]:
    """Du et al. style: an agent reads the others' latest solutions and updates its own."""
    peer_text = "\n".join(f"<peer>\n{p}\n</peer>" for p in peers)
    text = f"""{AGENT_OPENING}
This is revision round {round_no}. Below are your latest solution and the other agents' latest solutions.
Use their reasoning as extra advice: check it, keep your answer if you still think it is right, change it if
they convinced you. Be brief, and end with the line: The answer is <your answer>.

<question>
{question}
</question>
<your_solution>
{own_response}
</your_solution>
{peer_text}"""
    return [{"role": "user", "content": text}]
