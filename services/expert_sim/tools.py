"""Tool calling in the simulator: a plausible call, decided by simple, documented rules.

vLLM asks the model; the simulator decides with these rules (so tests can rely on them):

- ``tool_choice`` names a function (``{"type": "function", "function": {"name": F}}``): call F.
  vLLM fills such a call by structured output and ends with ``finish_reason: "stop"``.
- ``tool_choice: "required"``: call the first tool (``finish_reason: "tool_calls"``).
- ``tool_choice: "auto"`` (vLLM's default when tools are given): call the first tool whose
  name (``get_weather`` or ``get weather``) appears in the last user message; otherwise answer
  in text as usual.
- ``tool_choice: "none"`` or no tools: answer in text.

A server started without a tool parser (``--no-tool-calling``) refuses every other
``tool_choice`` with vLLM 0.32's 400 (:func:`tool_choice_refusal`).

Arguments are built from the function's JSON schema: each required property (every property
when none is marked required) gets a value of its type: a string quotes the user's words, a
number is 1, a boolean true, an enum its first member, an array empty, an object ``{}``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

__all__ = ["ToolCall", "choose_tool_call", "tool_choice_refusal"]


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: str  # JSON text, as OpenAI sends it
    finish_reason: str  # "tool_calls", or "stop" for a named tool_choice (as vLLM)
    id: str

    def message(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


def _functions(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [t.get("function") or {} for t in tools or [] if isinstance(t, dict) and t.get("type", "function") == "function"]


def _value(schema: dict[str, Any], text: str) -> Any:
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type", "string")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    return {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}, "null": None}.get(kind, text)


def _arguments(function: dict[str, Any], text: str) -> str:
    schema = function.get("parameters") or {}
    props: dict[str, Any] = schema.get("properties") or {}
    names = schema.get("required") or list(props)
    words = " ".join(text.split()[:8]) or "value"
    return json.dumps({name: _value(props.get(name) or {}, words) for name in names})


def _mentioned(function: dict[str, Any], text: str) -> bool:
    name = str(function.get("name") or "")
    lowered = text.lower()
    return bool(name) and (name.lower() in lowered or name.lower().replace("_", " ") in lowered)


def choose_tool_call(tools: list[dict[str, Any]] | None, tool_choice: Any, user_text: str) -> ToolCall | None:
    """The call the simulated model makes, or None for a text answer (rules in the module doc)."""
    functions = _functions(tools)
    if not functions or tool_choice == "none":
        return None
    finish = "tool_calls"
    if isinstance(tool_choice, dict):
        wanted = (tool_choice.get("function") or {}).get("name")
        chosen = next((f for f in functions if f.get("name") == wanted), None)
        finish = "stop"
    elif tool_choice == "required":
        chosen = functions[0]
    else:
        chosen = next((f for f in functions if _mentioned(f, user_text)), None)
    if chosen is None:
        return None
    return ToolCall(str(chosen.get("name")), _arguments(chosen, user_text), finish, f"chatcmpl-tool-{uuid.uuid4().hex[:16]}")


def tool_choice_refusal(tools: list[dict[str, Any]] | None, tool_choice: Any, enabled: bool) -> str | None:
    """vLLM's 400 message for a tool_choice the server cannot serve without a tool parser."""
    if enabled or not tools or tool_choice in (None, "none"):
        return None
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name")
        return f'tool_choice=function "{name}" requires --tool-call-parser to be set'
    if tool_choice == "auto":
        return '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
    return f'tool_choice="{tool_choice}" requires --tool-call-parser to be set'
