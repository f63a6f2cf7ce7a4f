"""Rebuilds the canonical answer from what the call step saw (its capture hooks).

The call step hands over a whole response (`response`), canonical chunks of a
translated or local stream (`chunk`), or the wire events of a passed-through
stream (`event`). Anything the canonical form cannot replay faithfully
(thinking blocks, audio, logprobs, several Anthropic content kinds) makes the
answer uncacheable rather than cached with a loss.
"""
from __future__ import annotations

from gateway.dataplane.adapters.anthropic_response import AnthropicStreamParser, from_anthropic
from gateway.dataplane.adapters.base import MALFORMED, json_or_none
from gateway.dataplane.errors import ProviderError
from gateway.dataplane.fastjson import loads

COMPLETE = frozenset({"stop", "tool_calls", "function_call"})  # "length" is truncated, "content_filter" refused
ANTHROPIC_BLOCKS = frozenset({"text", "tool_use"})  # the block kinds canonical answers carry
_DELTA_KEYS = frozenset({"role", "content", "tool_calls", "refusal"})
_META = ("id", "model", "created", "system_fingerprint")


class Capture:
    def __init__(self):
        self.whole: dict | None = None  # a non-streamed answer
        self.meta: dict = {}
        self.choices: dict[int, dict] = {}
        self.ok = True  # False once anything unreplayable or malformed was seen
        self._anthropic: AnthropicStreamParser | None = None

    # --- the call step's hooks -----------------------------------------------------------------

    def response(self, fmt: str, body) -> None:
        """A whole response: the canonical dict, or fmt's wire bytes."""
        self.parsed(fmt, body if fmt == "canonical" else json_or_none(body))

    def parsed(self, fmt: str, obj) -> None:
        """A whole response already parsed from fmt's JSON; None when it was not JSON."""
        if obj is None:
            self.ok = False
            return
        try:
            if fmt == "anthropic":
                self.ok &= all(b.get("type") in ANTHROPIC_BLOCKS for b in obj.get("content") or ())
                obj = from_anthropic(obj)
        except MALFORMED:
            self.ok = False
            return
        self.whole = obj if isinstance(obj, dict) else None

    def chunk(self, chunk: dict) -> None:
        try:
            self._chunk(chunk)
        except MALFORMED:
            self.ok = False

    def event(self, fmt: str, ev) -> None:
        try:
            if fmt == "anthropic":
                self._anthropic_event(ev)
            elif ev.data and ev.data != "[DONE]":
                self._chunk(loads(ev.data))
        except (*MALFORMED, ProviderError):
            self.ok = False

    # --- the result ----------------------------------------------------------------------------

    def result(self, usage: dict | None) -> dict | None:
        """The complete canonical answer, or None when it must not be cached."""
        answer = self.whole if self.whole is not None else self._assembled()
        if not self.ok or answer is None or not _complete(answer):
            return None
        if usage is not None and "usage" not in answer:
            answer = {**answer, "usage": usage}
        return answer

    # --- streams -------------------------------------------------------------------------------

    def _chunk(self, chunk: dict) -> None:
        for name in _META:
            if chunk.get(name) is not None:
                self.meta.setdefault(name, chunk[name])
        for choice in chunk.get("choices") or ():
            state = self.choices.setdefault(choice.get("index", 0), {"content": [], "refusal": [], "calls": {}})
            if choice.get("logprobs"):
                self.ok = False
            self._delta(state, choice.get("delta") or {})
            if choice.get("finish_reason"):
                state["finish"] = choice["finish_reason"]

    def _delta(self, state: dict, delta: dict) -> None:
        if any(v not in (None, "", [], {}) for k, v in delta.items() if k not in _DELTA_KEYS):
            self.ok = False  # audio, reasoning text, ...: a replay would drop it
        if delta.get("content"):
            state["content"].append(delta["content"])
        if delta.get("refusal"):
            state["refusal"].append(delta["refusal"])
        for call in delta.get("tool_calls") or ():
            slot = state["calls"].setdefault(call.get("index", 0), {"id": None, "type": "function",
                                                                    "function": {"name": "", "arguments": ""}})
            slot["id"] = call.get("id") or slot["id"]
            fn = call.get("function") or {}
            slot["function"]["name"] = fn.get("name") or slot["function"]["name"]
            slot["function"]["arguments"] += fn.get("arguments") or ""

    def _anthropic_event(self, ev) -> None:
        if self._anthropic is None:
            self._anthropic = AnthropicStreamParser()
        obj = loads(ev.data) if ev.data else {}
        if obj.get("type") == "content_block_start":
            self.ok &= (obj.get("content_block") or {}).get("type") in ANTHROPIC_BLOCKS
        out: list[dict] = []
        self._anthropic.on_event(ev, out)
        for chunk in out:
            self._chunk(chunk)

    def _assembled(self) -> dict | None:
        if not self.choices:
            return None
        choices = [_choice(index, state) for index, state in sorted(self.choices.items())]
        answer = {"id": self.meta.get("id", ""), "object": "chat.completion", "created": self.meta.get("created", 0),
                  "model": self.meta.get("model", ""), "choices": choices}
        if self.meta.get("system_fingerprint"):
            answer["system_fingerprint"] = self.meta["system_fingerprint"]
        return answer


def _choice(index: int, state: dict) -> dict:
    calls = [state["calls"][i] for i in sorted(state["calls"])]
    message: dict = {"role": "assistant", "content": "".join(state["content"]) if state["content"] or not calls
                     else None}
    if calls:
        message["tool_calls"] = calls
    if state["refusal"]:
        message["refusal"] = "".join(state["refusal"])
    return {"index": index, "message": message, "logprobs": None, "finish_reason": state.get("finish")}


def _complete(answer: dict) -> bool:
    if answer.get("object") == "list":  # embeddings
        return bool(answer.get("data"))
    choices = answer.get("choices")
    return bool(choices) and all(
        isinstance(c, dict) and c.get("finish_reason") in COMPLETE and isinstance(c.get("message"), dict)
        and not c.get("logprobs") for c in choices)
