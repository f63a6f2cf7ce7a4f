"""Capturing answers for the cache and replaying them, in every wire shape."""
from __future__ import annotations

import json
import time

import pytest

from gateway.dataplane.cache import replay
from gateway.dataplane.cache.capture import Capture
from gateway.dataplane.canonical import Usage, chunk, completion, usage_chunk, usage_dict
from gateway.dataplane.context import RequestContext
from gateway.dataplane.snapshot import EMPTY
from gateway.dataplane.sse import SSEParser

from .support import corpus

USAGE = usage_dict(Usage(input_tokens=7, output_tokens=3))
CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q":"x"}'}}


def text_answer(text="hello there", finish="stop"):
    return completion("chatcmpl-1", "m", {"role": "assistant", "content": text}, finish, Usage(7, 3), created=1)


def chunks_of(text="hello there", finish="stop"):
    yield chunk("c1", "m", 1, {"role": "assistant", "content": ""})
    for word in text.split(" "):
        yield chunk("c1", "m", 1, {"content": word + " "})
    yield chunk("c1", "m", 1, {}, finish)
    yield usage_chunk("c1", "m", 1, Usage(7, 3))


def context(ingress="openai", stream=True, canonical=None):
    sent = []

    async def send(message):
        sent.append(message)

    ctx = RequestContext(scope={}, send=send, request_id="r1", ingress=ingress, endpoint="chat", method="POST",
                         headers={}, raw_body=b"", snapshot=EMPTY, started_wall=time.time(),
                         started=time.perf_counter(), stream=stream, canonical=canonical or {"model": "m"},
                         body={"model": "public"} if ingress == "anthropic" else None)
    return ctx, sent


def body_of(sent) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_it_keeps_a_whole_canonical_answer_and_adds_the_usage():
    capture = Capture()
    answer = text_answer()
    del answer["usage"]
    capture.response("canonical", answer)
    assert capture.result(USAGE)["usage"] == USAGE


def test_it_assembles_streamed_chunks_into_one_answer():
    capture = Capture()
    for c in chunks_of():
        capture.chunk(c)
    answer = capture.result(USAGE)
    assert answer["choices"][0]["message"]["content"] == "hello there "
    assert answer["id"] == "c1" and answer["choices"][0]["finish_reason"] == "stop"


def test_it_assembles_streamed_tool_calls():
    capture = Capture()
    capture.chunk(chunk("c1", "m", 1, {"role": "assistant", "content": None}))
    capture.chunk(chunk("c1", "m", 1, {"tool_calls": [{"index": 0, **CALL, "function": {"name": "lookup",
                                                                                         "arguments": '{"q"'}}]}))
    capture.chunk(chunk("c1", "m", 1, {"tool_calls": [{"index": 0, "function": {"arguments": ':"x"}'}}]}))
    capture.chunk(chunk("c1", "m", 1, {}, "tool_calls"))
    message = capture.result(USAGE)["choices"][0]["message"]
    assert message["tool_calls"] == [CALL] and message["content"] is None


@pytest.mark.parametrize("finish", ["length", "content_filter", None])
def test_it_refuses_incomplete_answers(finish):
    capture = Capture()
    for c in chunks_of(finish=finish):
        capture.chunk(c)
    assert capture.result(USAGE) is None


def test_it_refuses_what_a_replay_would_lose():
    capture = Capture()
    capture.chunk(chunk("c1", "m", 1, {"content": "x", "audio": {"data": "..."}}))
    capture.chunk(chunk("c1", "m", 1, {}, "stop"))
    assert capture.result(USAGE) is None
    capture = Capture()
    capture.response("anthropic", json.dumps({"content": [{"type": "thinking", "thinking": "hm"},
                                                          {"type": "text", "text": "x"}],
                                              "stop_reason": "end_turn"}).encode())
    assert capture.result(USAGE) is None


def test_it_reads_passed_through_anthropic_events():
    capture = Capture()
    for ev in SSEParser().feed(corpus("anthropic", "tool_use.sse")):
        capture.event("anthropic", ev)
    answer = capture.result(USAGE)
    assert answer["choices"][0]["finish_reason"] == "tool_calls"
    assert answer["choices"][0]["message"]["tool_calls"][0]["function"]["name"]


def test_it_refuses_anthropic_streams_with_thinking_or_errors():
    for name in ("thinking_max_tokens.sse", "error.sse"):
        capture = Capture()
        for ev in SSEParser().feed(corpus("anthropic", name)):
            capture.event("anthropic", ev)
        assert capture.result(USAGE) is None, name


def test_it_reads_passed_through_openai_events():
    capture = Capture()
    raw = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks_of()) + b"data: [DONE]\n\n"
    for ev in SSEParser().feed(raw):
        capture.event("openai", ev)
    assert capture.result(None)["choices"][0]["message"]["content"] == "hello there "


@pytest.mark.parametrize("answer", [text_answer(), completion("x", "m", {"role": "assistant", "content": None,
                                                                         "tool_calls": [CALL]}, "tool_calls",
                                                              Usage(7, 1), created=1)], ids=["text", "tools"])
async def test_it_replays_an_openai_stream_that_captures_back_to_the_same_answer(answer):
    ctx, sent = context(canonical={"model": "m", "stream_options": {"include_usage": True}})
    await replay.serve(ctx, answer)
    raw = body_of(sent)
    assert raw.endswith(b"data: [DONE]\n\n") and ctx.usage is None
    capture = Capture()
    for ev in SSEParser().feed(raw):
        capture.event("openai", ev)
    assert capture.result(answer["usage"]) == answer  # usage comes from the call step, not the chunks


async def test_it_replays_an_anthropic_stream_that_captures_back_to_the_same_answer():
    ctx, sent = context(ingress="anthropic")
    await replay.serve(ctx, text_answer())
    events = SSEParser().feed(body_of(sent))
    assert [e.event for e in events][:1] == ["message_start"] and events[-1].event == "message_stop"
    capture = Capture()
    for ev in events:
        capture.event("anthropic", ev)
    assert capture.result(None)["choices"][0]["message"]["content"] == "hello there"


async def test_it_replays_json_in_the_clients_format():
    ctx, sent = context(ingress="anthropic", stream=False)
    await replay.serve(ctx, text_answer())
    message = json.loads(body_of(sent))
    assert message["type"] == "message" and message["model"] == "public"
    assert message["content"] == [{"type": "text", "text": "hello there"}] and message["usage"]["output_tokens"] == 3
    ctx, sent = context(stream=False)
    await replay.serve(ctx, text_answer())
    assert json.loads(body_of(sent)) == text_answer()
