import base64
import math
import struct
import time

import pytest

from gateway.dataplane.adapters import ADAPTERS
from gateway.dataplane.canonical import Target, client_wants_usage, is_usage_chunk, strip_usage
from gateway.dataplane.errors import ProviderError

from .support import finish_reasons, text_of_chunks, tool_calls_of_chunks

MOCK = ADAPTERS["mock"]
REQUEST = {
    "model": "demo",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": [{"type": "text", "text": "Tell me a story about a lighthouse keeper "},
                                     {"type": "text", "text": "and her cat."}]},
    ],
}
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
         {"type": "function", "function": {"name": "other"}}]


def target(**options) -> Target:
    return Target("mock", model="", options=options)


async def collect(canonical, tgt) -> list[dict]:
    return [c async for c in MOCK.stream(canonical, tgt)]


def test_it_is_registered_as_a_local_adapter():
    assert MOCK.local and MOCK.kind == "mock" and MOCK.wire == "openai"


async def test_it_replies_deterministically_from_the_last_user_message():
    first = await MOCK.complete(REQUEST, target())
    second = await MOCK.complete(REQUEST, target())
    message = first["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "mock reply to: Tell me a story about a lighthouse keepe"}
    assert {**first, "created": 0} == {**second, "created": 0}
    assert first["id"].startswith("chatcmpl-mock-") and first["model"] == "demo"
    assert first["choices"][0]["finish_reason"] == "stop"


async def test_it_counts_tokens_as_documented():
    out = await MOCK.complete(REQUEST, target(cached_tokens=5))
    # 5 + 2 + 2 + 11 words in the messages (text parts joined); the reply has 11 words.
    usage = MOCK.usage(out)
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens, usage.estimated) == (20, 11, 5, False)
    assert out["usage"]["total_tokens"] == 31


async def test_it_streams_the_same_text_one_word_per_chunk_by_default():
    chunks = await collect(REQUEST, target())
    whole = (await MOCK.complete(REQUEST, target()))["choices"][0]["message"]["content"]
    assert text_of_chunks(chunks) == whole
    content = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(content) == len(whole.split())
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert finish_reasons(chunks) == ["stop"] and is_usage_chunk(chunks[-1])
    assert MOCK.usage(chunks[-1]).output_tokens == 11


@pytest.mark.parametrize("count", [1, 3, 500])
async def test_it_streams_the_requested_number_of_chunks(count):
    chunks = await collect(REQUEST, target(chunks=count))
    content = [c for c in chunks if c["choices"] and "content" in c["choices"][0]["delta"]][1:]
    reply = "mock reply to: Tell me a story about a lighthouse keepe"
    # More chunks than characters gives some empty deltas; the text is always whole.
    assert len(content) == count and text_of_chunks(chunks) == reply


async def test_it_calls_the_first_tool_unless_tool_choice_is_none():
    out = await MOCK.complete({**REQUEST, "tools": TOOLS}, target())
    [call] = out["choices"][0]["message"]["tool_calls"]
    assert call["function"] == {"name": "lookup", "arguments": "{}"} and out["choices"][0]["finish_reason"] == "tool_calls"
    assert out["choices"][0]["message"]["content"] is None and out["usage"]["completion_tokens"] == 1
    forced = await MOCK.complete({**REQUEST, "tools": TOOLS,
                                  "tool_choice": {"type": "function", "function": {"name": "other"}}}, target())
    assert forced["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "other"
    none = await MOCK.complete({**REQUEST, "tools": TOOLS, "tool_choice": "none"}, target())
    assert "tool_calls" not in none["choices"][0]["message"]


async def test_it_streams_tool_calls():
    chunks = await collect({**REQUEST, "tools": TOOLS}, target())
    calls = tool_calls_of_chunks(chunks)
    assert [(c["name"], c["arguments"]) for c in calls.values()] == [("lookup", "{}")]
    assert calls[0]["id"].startswith("call_mock_") and finish_reasons(chunks) == ["tool_calls"]


async def test_it_answers_a_tool_result_with_text_so_agent_loops_end():
    req = {**REQUEST, "tools": TOOLS, "messages": REQUEST["messages"] + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "result"}]}
    out = await MOCK.complete(req, target())
    assert out["choices"][0]["message"]["content"].startswith("mock reply to: ")


@pytest.mark.parametrize(("status", "retryable", "permanent"), [(429, True, False), (500, True, False),
                                                                (503, True, False), (400, False, True)])
async def test_it_injects_errors_with_retry_after(status, retryable, permanent):
    tgt = target(error=status, retry_after=2)
    with pytest.raises(ProviderError) as info:
        await MOCK.complete(REQUEST, tgt)
    assert (info.value.status, info.value.retryable, info.value.permanent) == (status, retryable, permanent)
    assert info.value.retry_after == 2.0
    with pytest.raises(ProviderError):
        await collect({**REQUEST, "stream": True}, tgt)


async def test_it_fails_mid_stream_after_n_chunks():
    received = []
    with pytest.raises(ProviderError) as info:
        async for c in MOCK.stream(REQUEST, target(fail_after_chunks=2)):
            received.append(c)
    assert info.value.status == 502 and info.value.code == "mock_stream_failure"
    assert text_of_chunks(received) == "mock reply "  # exactly two content chunks got out


async def test_it_waits_for_latency_and_chunk_delay():
    start = time.perf_counter()
    await MOCK.complete(REQUEST, target(latency_ms=40))
    assert time.perf_counter() - start >= 0.035
    start = time.perf_counter()
    await collect(REQUEST, target(chunks=4, chunk_delay_ms=15))
    assert time.perf_counter() - start >= 0.05


async def test_it_honours_include_usage_through_strip_usage():
    chunks = await collect(REQUEST, target())
    for request, expected in ((REQUEST, 0), ({**REQUEST, "stream_options": {"include_usage": True}}, 1)):
        wants = client_wants_usage(request)
        sent = chunks if wants else [c for c in (strip_usage(dict(c)) for c in chunks) if c is not None]
        assert sum(is_usage_chunk(c) for c in sent) == expected


async def test_it_embeds_deterministically_with_dimensions_and_base64():
    req = {"model": "embed", "input": ["hello world", "other"]}
    first = await MOCK.complete(req, target(), endpoint="embeddings")
    second = await MOCK.complete(req, target(), endpoint="embeddings")
    assert first == second and first["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    vectors = [d["embedding"] for d in first["data"]]
    assert [len(v) for v in vectors] == [8, 8] and vectors[0] != vectors[1]
    assert math.isclose(sum(x * x for x in vectors[0]), 1.0)
    sized = await MOCK.complete({**req, "input": "hello world", "dimensions": 3}, target(), endpoint="embeddings")
    assert len(sized["data"][0]["embedding"]) == 3
    packed = await MOCK.complete({**req, "encoding_format": "base64"}, target(), endpoint="embeddings")
    decoded = struct.unpack("<8f", base64.b64decode(packed["data"][0]["embedding"]))
    assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(decoded, vectors[0], strict=True))
    tokens = await MOCK.complete({"model": "e", "input": [1, 2, 3]}, target(dimensions=4), endpoint="embeddings")
    assert len(tokens["data"]) == 1 and len(tokens["data"][0]["embedding"]) == 4
