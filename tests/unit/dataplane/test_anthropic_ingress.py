import copy
import json

import anthropic
import httpx2
import pytest

from gateway.dataplane.adapters import ADAPTERS
from gateway.dataplane.adapters.anthropic_request import to_anthropic
from gateway.dataplane.errors import GatewayError
from gateway.dataplane.formats.anthropic import from_canonical, to_canonical
from gateway.dataplane.formats.anthropic_stream import AnthropicEventEncoder
from gateway.dataplane.sse import SSEParser

from .support import corpus, feed_all

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
WEATHER = {"name": "get_weather", "description": "Weather by city",
           "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}
REQUEST = {
    "model": "claude-sonnet-4-20250514",
    "max_tokens": 256,
    "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "Weather here?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "image", "source": {"type": "url", "url": "https://example.test/sky.jpg"}},
        ]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"location": "Rome"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": "21C"},
            {"type": "text", "text": "Which is warmer?"},
        ]},
    ],
    "tools": [WEATHER],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    "stop_sequences": ["END"],
    "temperature": 0.5,
    "top_p": 0.9,
    "metadata": {"user_id": "user-42"},
    "stream": True,
}


def test_it_converts_an_anthropic_request_to_canonical():
    c = to_canonical(REQUEST)
    assert c["model"] == "claude-sonnet-4-20250514" and c["max_tokens"] == 256
    assert c["messages"][0] == {"role": "system", "content": [
        {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]}
    assert c["messages"][1]["content"][1] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    assert c["messages"][1]["content"][2] == {"type": "image_url", "image_url": {"url": "https://example.test/sky.jpg"}}
    assert c["messages"][2] == {"role": "assistant", "content": "Checking.", "tool_calls": [
        {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'}},
        {"id": "toolu_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"location":"Rome"}'}},
    ]}
    assert c["messages"][3:] == [
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "21C"},
        {"role": "user", "content": "Which is warmer?"},
    ]
    assert c["tools"] == [{"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
                                                            "parameters": WEATHER["input_schema"]}}]
    assert (c["tool_choice"], c["parallel_tool_calls"]) == ("required", False)
    assert (c["stop"], c["temperature"], c["top_p"], c["user"]) == (["END"], 0.5, 0.9, "user-42")
    assert c["stream"] is True and c["stream_options"] == {"include_usage": True}


def test_it_round_trips_requests_anthropic_to_canonical_to_anthropic():
    original = copy.deepcopy(REQUEST)
    again = to_anthropic(to_canonical(REQUEST), REQUEST["model"], stream=True)
    assert REQUEST == original  # conversion does not mutate its input
    assert again == original


def test_it_keeps_tool_result_images_and_drops_thinking_blocks():
    c = to_canonical({"model": "m", "max_tokens": 5, "messages": [
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "...", "signature": "s"},
                                          {"type": "tool_use", "id": "t1", "name": "shot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
            {"type": "text", "text": "see image"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}}]}]},
    ]})
    assert c["messages"][0]["content"] is None and c["messages"][0]["tool_calls"][0]["function"]["arguments"] == "{}"
    assert c["messages"][1] == {"role": "tool", "tool_call_id": "t1", "content": "see image"}
    assert c["messages"][2] == {"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}]}


@pytest.mark.parametrize(("patch", "param"), [
    ({"model": None}, "model"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, "messages[0].content[0].type"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]}, "messages[0].content[0]"),
    ({"system": 12}, "system"),
    ({"temperature": 1.5}, "temperature"),
    ({"stop_sequences": "END"}, "stop_sequences"),
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
    ({"tools": [{"description": "no name"}]}, "tools[0].name"),
])
def test_it_rejects_malformed_or_untranslatable_requests_with_param(patch, param):
    with pytest.raises(GatewayError) as info:
        to_canonical({**REQUEST, **patch})
    assert (info.value.status, info.value.param) == (400, param)


RESPONSE = {
    "id": "msg_01A", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
    "content": [{"type": "text", "text": "Paris is cooler."},
                {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"location": "Oslo"}}],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 20, "output_tokens": 45, "cache_creation_input_tokens": 100,
              "cache_read_input_tokens": 2000},
}


def test_it_round_trips_responses_anthropic_to_canonical_to_anthropic():
    canonical = ADAPTERS["anthropic"].parse_response(200, json.dumps(RESPONSE).encode())
    assert from_canonical(canonical) == RESPONSE


@pytest.mark.parametrize(("finish", "stop"), [
    ("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal"),
    (None, "end_turn"),
])
def test_it_converts_canonical_responses_to_messages(finish, stop):
    canonical = {"id": "chatcmpl-9", "model": "gpt-4o", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]},
         "finish_reason": finish}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 30}}}
    out = from_canonical(canonical, model="claude-alias")
    assert (out["id"], out["model"], out["stop_reason"]) == ("msg_9", "claude-alias", stop)
    assert out["content"] == [{"type": "text", "text": "hi"}, {"type": "tool_use", "id": "call_1", "name": "f",
                                                                "input": {}}]
    assert out["usage"] == {"input_tokens": 20, "output_tokens": 5, "cache_creation_input_tokens": 0,
                            "cache_read_input_tokens": 30}


def encode(chunks, model="claude-alias", **kwargs) -> bytes:
    enc = AnthropicEventEncoder(model, **kwargs)
    return b"".join(enc.feed(c) for c in chunks) + enc.close()


def event_types(raw: bytes) -> list[str]:
    parser = SSEParser()
    events = parser.feed(raw) + parser.close()
    assert all(json.loads(e.data)["type"] == e.event for e in events)
    return [e.event for e in events]


def test_it_encodes_the_event_sequence_for_text_and_parallel_tools():
    chunks = feed_all(ADAPTERS["openai"].stream_parser(), corpus("openai", "tool_calls.sse"))
    chunks.insert(0, {"id": "x", "choices": [{"index": 0, "delta": {"content": "Checking."}}]})
    assert event_types(encode(chunks)) == [
        "message_start",
        "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]


def test_it_closes_an_empty_stream_into_a_valid_message():
    assert event_types(encode([])) == ["message_start", "message_delta", "message_stop"]
    enc = AnthropicEventEncoder("m")
    enc.close()
    assert enc.close() == b"" and enc.feed({"choices": []}) == b""


def sdk_client(body: bytes) -> anthropic.Anthropic:
    def handler(request):
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return anthropic.Anthropic(api_key="sy-test", base_url="http://gw.test/anthropic", max_retries=0,
                               http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))


def sdk_final(body: bytes):
    with sdk_client(body).messages.stream(model="m", max_tokens=64, messages=[{"role": "user", "content": "x"}]) as s:
        kinds = [event.type for event in s]
        return s.get_final_message(), kinds


@pytest.mark.parametrize("name", ["text.sse", "tool_use.sse", "thinking_max_tokens.sse"])
def test_it_rebuilds_recorded_anthropic_streams_the_sdk_reads_identically(name):
    """Anthropic upstream -> canonical -> Anthropic client gives the SDK the same message."""
    original, _ = sdk_final(corpus("anthropic", name))
    chunks = feed_all(ADAPTERS["anthropic"].stream_parser(), corpus("anthropic", name), 23)
    rebuilt, kinds = sdk_final(encode(chunks, model=original.model))
    expected = [b for b in original.content if b.type != "thinking"]
    assert [b.to_dict() for b in rebuilt.content] == [b.to_dict() for b in expected]
    assert (rebuilt.id, rebuilt.model, rebuilt.stop_reason) == (original.id, original.model, original.stop_reason)
    for field in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
        assert (getattr(rebuilt.usage, field) or 0) == (getattr(original.usage, field) or 0), field
    assert "message_stop" in kinds


def test_it_streams_openai_upstream_tool_calls_into_the_official_sdk():
    chunks = feed_all(ADAPTERS["openai"].stream_parser(), corpus("openai", "tool_calls.sse"))
    message, _ = sdk_final(encode(chunks))
    assert [(b.type, b.name, b.input) for b in message.content] == [
        ("tool_use", "get_weather", {"location": "Paris"}), ("tool_use", "get_time", {"tz": "Europe/Paris"})]
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (85, 40)


def test_it_streams_gemini_upstream_text_into_the_official_sdk():
    chunks = feed_all(ADAPTERS["gemini"].stream_parser(), corpus("gemini", "text.sse"))
    message, _ = sdk_final(encode(chunks, input_tokens=2000))
    assert message.content[0].text == "The quick brown fox jumps."
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (52, 2048)


def test_it_emits_an_error_event_the_sdk_raises():
    chunks = feed_all(ADAPTERS["anthropic"].stream_parser(), corpus("anthropic", "text.sse"))[:2]
    enc = AnthropicEventEncoder("m")
    body = b"".join(enc.feed(c) for c in chunks) + enc.error(GatewayError(502, "upstream_error", "went away"))
    assert enc.close() == b""
    with pytest.raises(anthropic.APIStatusError, match="went away"):
        sdk_final(body)
