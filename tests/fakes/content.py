"""The deterministic reply and token counts every fake derives from a request.

Tests compute expected output with the same rules (or these helpers):

* prompt tokens = ``words()`` of every text in the request (system prompt and all
  messages; tool definitions, tool-call arguments and images do not count);
* text reply = ``"echo: " + <last user text>`` (whitespace collapsed to single
  spaces); completion tokens = ``words(reply)``; a max-tokens limit below that
  truncates the reply to that many words and finishes with "length";
* tool calls (request has tools, tool choice is not "none" and the last message is
  not a tool result): ``tool_calls:<n>`` calls (default 1), call i names tool
  ``i % len(tools)`` with arguments ``{"text": <last user text>}``; completion
  tokens = sum of ``words(name + " " + arguments_json)``;
* streaming splits the reply one word per chunk (``chunks:<n>``: n chunks),
  each chunk but the last keeps its trailing space, so chunks join to the reply.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from tests.fakes.scenarios import Scenario


def words(text: str) -> int:
    return len(text.split())


@dataclass
class ToolCall:
    name: str
    arguments: dict

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments)


@dataclass
class Plan:
    text: str | None  # None when the reply is tool calls
    pieces: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish: str = "stop"  # "stop" | "length" | "tool_calls"; each wire maps it
    prompt_tokens: int = 0
    completion_tokens: int = 0  # visible output, reasoning not included
    cached: int = 0
    cache_write: int = 0
    reasoning: int = 0


def plan(
    *,
    texts: list[str],
    last_user: str,
    tool_names: list[str],
    tools_allowed: bool,
    max_tokens: int | None,
    scenario: Scenario,
) -> Plan:
    prompt = sum(words(t) for t in texts)
    cached = min(scenario.cached, prompt)
    usage = {
        "prompt_tokens": prompt,
        "cached": cached,
        "cache_write": min(scenario.cache_write, prompt - cached),
        "reasoning": scenario.reasoning,
    }
    last_user = " ".join(last_user.split())
    if tool_names and tools_allowed and scenario.tool_calls != 0:
        calls = [
            ToolCall(tool_names[i % len(tool_names)], {"text": last_user}) for i in range(scenario.tool_calls or 1)
        ]
        completion = sum(words(f"{c.name} {c.arguments_json}") for c in calls)
        return Plan(None, tool_calls=calls, finish="tool_calls", completion_tokens=completion, **usage)
    reply = ["echo:", *last_user.split()]
    finish = "stop"
    if max_tokens is not None and len(reply) > max_tokens:
        reply, finish = reply[: max(max_tokens, 0)], "length"
    return Plan(
        " ".join(reply), split_words(reply, scenario.chunks), finish=finish, completion_tokens=len(reply), **usage
    )


def split_words(reply: list[str], chunks: int | None) -> list[str]:
    """Group words into ``chunks`` near-equal pieces (default: one per word)."""
    n = min(chunks or len(reply), len(reply))
    if n <= 0:
        return []
    size, extra = divmod(len(reply), n)
    pieces, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        pieces.append(" ".join(reply[start:end]) + (" " if end < len(reply) else ""))
        start = end
    return pieces


def embedding(text: str, dims: int = 8) -> list[float]:
    """A stable pseudo-vector in [-1, 1): the same text always maps to the same vector."""
    out: list[float] = []
    seed = text.encode()
    while len(out) < dims:
        seed = hashlib.sha256(seed).digest()
        out.extend(b / 128 - 1 for b in seed)  # multiples of 1/128: exact in float32 too
    return out[:dims]
