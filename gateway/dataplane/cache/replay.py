"""Answering a cache hit in the client's wire format, without any upstream call.

Non-streamed: the stored answer as JSON (OpenAI) or as an Anthropic message.
Streamed: the answer becomes canonical chunks and goes through the same
ChunkWriter as a live stream, so a replay is exactly as valid for the SDKs
(OpenAI chunks ending in [DONE], the usage chunk only when asked for;
Anthropic message_start ... message_stop).
"""
from __future__ import annotations

from gateway.dataplane import respond
from gateway.dataplane.canonical import dumps, text_of, usage_from_dict
from gateway.dataplane.formats import anthropic as anthropic_format
from gateway.dataplane.steps.relay import relay_local


async def serve(ctx, answer: dict) -> None:
    try:
        if ctx.stream and ctx.endpoint == "chat":
            await relay_local(ctx, _chunks(answer))
        else:
            await respond.send_json(ctx, 200, _body(ctx, answer))
    finally:
        ctx.usage = None  # nothing was consumed upstream: the ledger row of a hit carries no tokens


def _body(ctx, answer: dict) -> bytes:
    if ctx.ingress == "anthropic":
        return dumps(anthropic_format.from_canonical(answer, model=(ctx.body or {}).get("model")))
    return dumps(answer)


def _chunk(answer: dict, index: int, delta: dict, finish: str | None = None) -> dict:
    return {"id": answer.get("id", ""), "object": "chat.completion.chunk", "created": answer.get("created", 0),
            "model": answer.get("model", ""),
            "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}


async def _chunks(answer: dict):
    for choice in answer.get("choices") or ():
        for chunk in _choice_chunks(answer, choice):
            yield chunk
    usage = usage_from_dict(answer.get("usage"))
    if usage is not None:
        yield {"id": answer.get("id", ""), "object": "chat.completion.chunk", "created": answer.get("created", 0),
               "model": answer.get("model", ""), "choices": [], "usage": answer["usage"]}


def _choice_chunks(answer: dict, choice: dict):
    index, message = choice.get("index", 0), choice.get("message") or {}
    calls, text = message.get("tool_calls") or [], text_of(message.get("content"))
    yield _chunk(answer, index, {"role": "assistant", "content": None if calls and not text else ""})
    if text:
        yield _chunk(answer, index, {"content": text})
    if message.get("refusal"):
        yield _chunk(answer, index, {"refusal": message["refusal"]})
    for position, call in enumerate(calls):
        delta = {"index": position, "id": call.get("id"), "type": "function", "function": call.get("function")}
        yield _chunk(answer, index, {"tool_calls": [delta]})
    yield _chunk(answer, index, {}, choice.get("finish_reason"))
