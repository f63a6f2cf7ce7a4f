"""Gemini generateContent responses and streams -> canonical (OpenAI) dicts."""
from __future__ import annotations

import json
import time
import uuid

from ..canonical import Usage, chunk, embeddings_response, usage_chunk, usage_dict
from ..errors import ProviderError
from ..sse import SSEEvent
from .base import SSEStreamParser, classify, error_details
from .gemini_request import SIGNATURE_SEP

__all__ = ["GeminiStreamParser", "from_gemini", "from_gemini_embeddings", "gemini_error", "gemini_usage"]

_FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE"}
)


def _n(v: object) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0


def gemini_usage(u: object) -> Usage | None:
    """promptTokenCount already includes cached tokens; OpenAI counts thoughts as output."""
    if not isinstance(u, dict):
        return None
    thoughts = _n(u.get("thoughtsTokenCount"))
    return Usage(
        input_tokens=_n(u.get("promptTokenCount")) + _n(u.get("toolUsePromptTokenCount")),
        output_tokens=_n(u.get("candidatesTokenCount")) + thoughts,
        cached_tokens=_n(u.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
    )


def finish_reason(reason: object, has_calls: bool) -> str | None:
    if not reason or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _FILTERED:
        return "content_filter"
    return "tool_calls" if has_calls else "stop"


def _call(part: dict, index: int | None = None) -> dict:
    """A functionCall part as an OpenAI tool call (thought signature kept in the id)."""
    fc = part["functionCall"]
    call_id = fc.get("id") or "call_" + uuid.uuid4().hex[:24]
    if part.get("thoughtSignature"):
        call_id += SIGNATURE_SEP + part["thoughtSignature"]
    args = json.dumps(fc.get("args") or {}, ensure_ascii=False, separators=(",", ":"))
    call = {"id": call_id, "type": "function", "function": {"name": fc["name"], "arguments": args}}
    if index is not None:
        call = {"index": index, **call}
    return call


def _split(parts: object) -> tuple[list[str], list[dict]]:
    texts, calls = [], []
    for part in parts or ():
        if "functionCall" in part:
            calls.append(part)
        elif isinstance(part.get("text"), str) and not part.get("thought"):
            texts.append(part["text"])  # thought summaries have no Chat Completions field
    return texts, calls


def from_gemini(obj: dict, model: str = "") -> dict:
    choices = []
    for i, cand in enumerate(obj.get("candidates") or ()):
        texts, calls = _split((cand.get("content") or {}).get("parts"))
        message: dict = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
        if calls:
            message["tool_calls"] = [_call(p) for p in calls]
        finish = finish_reason(cand.get("finishReason"), bool(calls)) or "stop"
        choices.append({"index": cand.get("index", i), "message": message, "logprobs": None, "finish_reason": finish})
    if not choices:
        # No candidates: the prompt itself was blocked (promptFeedback.blockReason).
        message = {"role": "assistant", "content": ""}
        choices.append({"index": 0, "message": message, "logprobs": None, "finish_reason": "content_filter"})
    out = {
        "id": obj.get("responseId") or "chatcmpl-" + uuid.uuid4().hex[:24],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": obj.get("modelVersion") or model,
        "choices": choices,
    }
    usage = gemini_usage(obj.get("usageMetadata"))
    if usage is not None:
        out["usage"] = usage_dict(usage)
    return out


def from_gemini_embeddings(obj: dict, model: str = "") -> dict:
    vectors = [e["values"] for e in obj["embeddings"]]
    out = embeddings_response(vectors, model, 0, None)
    del out["usage"]  # batchEmbedContents reports no token counts: the proxy estimates them
    return out


def gemini_error(err: object) -> ProviderError:
    message, code, obj = error_details(json.dumps({"error": err}).encode())
    status = obj.get("code") if isinstance(obj, dict) else None
    status = status if isinstance(status, int) and 400 <= status <= 599 else 500
    return classify(status, message or "upstream stream error", code, None)


class GeminiStreamParser(SSEStreamParser):
    """Each SSE event is a whole GenerateContentResponse holding the next parts.

    Function calls arrive whole, so each becomes one tool-call delta. usageMetadata
    is cumulative; the last one is emitted as the usage chunk at the end.
    """

    def __init__(self) -> None:
        super().__init__()
        self._id, self._model, self._created = "", "", 0
        self._usage: Usage | None = None
        self._calls: dict[int, int] = {}  # candidate index -> tool calls so far
        self._started = False

    def on_event(self, ev: SSEEvent, out: list[dict]) -> None:
        if not ev.data:
            return
        obj = json.loads(ev.data)
        if "error" in obj:
            raise gemini_error(obj["error"])
        if not self._started:
            self._start(obj, out)
        usage = gemini_usage(obj.get("usageMetadata"))
        if usage is not None:
            self._usage = usage
        for i, cand in enumerate(obj.get("candidates") or ()):
            self._candidate(cand.get("index", i), cand, out)
        if not obj.get("candidates") and (obj.get("promptFeedback") or {}).get("blockReason"):
            out.append(self._chunk(0, {}, "content_filter"))

    def _start(self, obj: dict, out: list[dict]) -> None:
        self._started = True
        self._id = str(obj.get("responseId") or "chatcmpl-" + uuid.uuid4().hex[:24])
        self._model = str(obj.get("modelVersion") or "")
        self._created = int(time.time())
        out.append(self._chunk(0, {"role": "assistant", "content": ""}))

    def _chunk(self, index: int, delta: dict, finish: str | None = None) -> dict:
        c = chunk(self._id, self._model, self._created, delta, finish)
        c["choices"][0]["index"] = index
        return c

    def _candidate(self, index: int, cand: dict, out: list[dict]) -> None:
        texts, calls = _split((cand.get("content") or {}).get("parts"))
        if texts:
            out.append(self._chunk(index, {"content": "".join(texts)}))
        seen = self._calls.get(index, 0)
        if calls:
            deltas = [_call(p, seen + k) for k, p in enumerate(calls)]
            self._calls[index] = seen + len(calls)
            out.append(self._chunk(index, {"tool_calls": deltas}))
        finish = finish_reason(cand.get("finishReason"), self._calls.get(index, 0) > 0)
        if finish:
            out.append(self._chunk(index, {}, finish))

    def on_close(self, out: list[dict]) -> None:
        # No usageMetadata at all: no usage chunk, so the proxy estimates instead of billing zero.
        if self._started and self._usage is not None:
            out.append(usage_chunk(self._id, self._model, self._created, self._usage))
