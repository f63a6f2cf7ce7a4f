import json

import pytest

from gateway.dataplane.adapters import ADAPTERS
from gateway.dataplane.errors import GatewayError, ProviderError

from .support import corpus, feed_all, finish_reasons, text_of_chunks, tool_calls_of_chunks

ADAPTER = ADAPTERS["anthropic"]
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
                                      "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                                                     "required": ["location"]}}},
    {"type": "function", "function": {"name": "get_time"}},
]
CONVERSATION = {
    "model": "client-model",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "Weather and time in Paris? See:"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            {"type": "image_url", "image_url": {"url": "https://example.test/cat.jpg", "detail": "low"}},
        ]},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "not json"}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C, cloudy"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "14:05"}]},
        {"role": "user", "content": "Thanks. Summarise."},
    ],
    "tools": TOOLS,
    "tool_choice": "auto",
    "temperature": 1.5,
    "top_p": 0.9,
    "stop": "END",
    "user": "user-42",
    "max_completion_tokens": 300,
    "max_tokens": 100,
}


def body_of(canonical, stream=False, target=None):
    target = target or _target()
    return json.loads(ADAPTER.build_request(canonical, target, stream=stream).body)


def _target(**kwargs):
    from gateway.dataplane.canonical import Target

    return Target("anthropic", api_key="sk-ant-test", model="claude-sonnet-4-20250514", **kwargs)


def test_it_translates_system_messages_sampling_and_limits():
    body = body_of(CONVERSATION)
    assert body["model"] == "claude-sonnet-4-20250514"
    assert body["system"] == [{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Use tools."}]
    assert body["max_tokens"] == 300  # max_completion_tokens wins over the legacy max_tokens
    assert body["temperature"] == 1.0  # clamped into Anthropic's range
    assert (body["top_p"], body["stop_sequences"], body["metadata"]) == (0.9, ["END"], {"user_id": "user-42"})
    assert "stream" not in body


def test_it_uses_a_plain_string_for_a_single_system_prompt():
    body = body_of({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]})
    assert body["system"] == "S" and body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "U"}]}]


def test_it_defaults_max_tokens_and_sets_stream():
    body = body_of({"messages": [{"role": "user", "content": "hi"}]}, stream=True)
    assert body["max_tokens"] == 4096 and body["stream"] is True


def test_it_translates_images_to_base64_and_url_sources():
    user = body_of(CONVERSATION)["messages"][0]
    assert user["content"][1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    assert user["content"][2] == {"type": "image", "source": {"type": "url", "url": "https://example.test/cat.jpg"}}


def test_it_translates_tool_calls_and_parallel_tool_results_into_one_user_turn():
    messages = body_of(CONVERSATION)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"location": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
    ]
    assert messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "18C, cloudy"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "14:05"}]},
        {"type": "text", "text": "Thanks. Summarise."},
    ]


def test_it_translates_tools_with_input_schema():
    tools = body_of(CONVERSATION)["tools"]
    assert tools == [
        {"name": "get_weather", "description": "Weather by city", "input_schema": TOOLS[0]["function"]["parameters"]},
        {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
    ]


@pytest.mark.parametrize(("choice", "parallel", "expected"), [
    ("auto", None, {"type": "auto"}),
    ("required", None, {"type": "any"}),
    ("none", None, {"type": "none"}),
    ({"type": "function", "function": {"name": "get_time"}}, None, {"type": "tool", "name": "get_time"}),
    ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    (None, None, None),
])
def test_it_maps_tool_choice(choice, parallel, expected):
    req = {"messages": [{"role": "user", "content": "x"}], "tools": TOOLS}
    if choice is not None:
        req["tool_choice"] = choice
    if parallel is not None:
        req["parallel_tool_calls"] = parallel
    assert body_of(req).get("tool_choice") == expected


def test_it_rejects_what_anthropic_cannot_do():
    with pytest.raises(GatewayError) as info:
        body_of({"messages": [{"role": "user", "content": "x"}], "n": 2})
    assert (info.value.status, info.value.param) == (400, "n")
    with pytest.raises(GatewayError) as info:
        body_of({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]})
    assert info.value.param == "messages[0].content[0]"
    with pytest.raises(GatewayError):
        ADAPTER.build_request({"input": "x"}, _target(), endpoint="embeddings")


def test_it_sets_the_url_and_headers():
    req = ADAPTER.build_request({"messages": []}, _target(base_url="https://proxy.test/v1/", headers={"x-a": "1"}))
    assert req.url == "https://proxy.test/v1/messages"
    assert req.headers["x-api-key"] == "sk-ant-test" and req.headers["x-a"] == "1"
    req = ADAPTER.build_request({"messages": []}, _target(options={"anthropic_version": "2024-01-01"}))
    assert req.url == "https://api.anthropic.com/v1/messages" and req.headers["anthropic-version"] == "2024-01-01"
    assert "anthropic-beta" not in req.headers


RESPONSE = {
    "id": "msg_01A", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
    "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "text", "text": "Looking up "},
        {"type": "text", "text": "both."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {"tz": "Europe/Paris", "é": 1}},
    ],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 20, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 2000,
              "output_tokens": 45},
}


def test_it_translates_responses_with_parallel_tool_calls_and_cached_usage():
    out = ADAPTER.parse_response(200, json.dumps(RESPONSE).encode())
    message = out["choices"][0]["message"]
    assert out["object"] == "chat.completion" and out["id"] == "msg_01A"
    assert message["content"] == "Looking up both."
    assert [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in message["tool_calls"]] == [("toolu_1", "get_weather", {"location": "Paris"}),
                                                ("toolu_2", "get_time", {"tz": "Europe/Paris", "é": 1})]
    assert out["choices"][0]["finish_reason"] == "tool_calls"
    assert out["usage"]["prompt_tokens"] == 2120 and out["usage"]["completion_tokens"] == 45
    assert out["usage"]["prompt_tokens_details"]["cached_tokens"] == 2000
    usage = ADAPTER.usage(out)
    assert (usage.input_tokens, usage.cached_tokens, usage.cache_write_tokens) == (2120, 2000, 100)


@pytest.mark.parametrize(("reason", "finish"), [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
    ("refusal", "content_filter"), ("pause_turn", "stop"), (None, "stop"),
])
def test_it_maps_stop_reasons(reason, finish):
    body = dict(RESPONSE, content=[{"type": "text", "text": "x"}], stop_reason=reason)
    assert ADAPTER.parse_response(200, json.dumps(body).encode())["choices"][0]["finish_reason"] == finish


def test_it_raises_classified_errors_and_malformed_responses():
    with pytest.raises(ProviderError) as info:
        ADAPTER.parse_response(529, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')
    assert info.value.retryable and info.value.code == "overloaded_error"
    with pytest.raises(ProviderError):
        ADAPTER.parse_response(200, b'{"content": [{"type": "tool_use"}]}')


@pytest.mark.parametrize("step", [None, 1, 17])
def test_it_parses_the_recorded_text_stream(step):
    chunks = feed_all(ADAPTER.stream_parser(), corpus("anthropic", "text.sse"), step)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[0]["id"] == "msg_01XFDUDYJgAACzvnptvVoYEL" and chunks[0]["model"] == "claude-sonnet-4-20250514"
    assert text_of_chunks(chunks) == "Hello! How can I help?"
    assert finish_reasons(chunks) == ["stop"]
    usage = ADAPTER.usage(chunks[-1])
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens) == (1825, 12, 1800)
    assert chunks[-1]["choices"] == []


def test_it_parses_recorded_tool_use_streams_with_openai_indexes():
    chunks = feed_all(ADAPTER.stream_parser(), corpus("anthropic", "tool_use.sse"), 11)
    assert text_of_chunks(chunks) == "Let me check both."
    assert tool_calls_of_chunks(chunks) == {
        0: {"id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather",
            "arguments": '{"location": "San Francisco, CA"}'},
        1: {"id": "toolu_02ABCdefGHIjkl", "name": "get_time", "arguments": '{"tz": "America/Los_Angeles"}'},
    }
    assert finish_reasons(chunks) == ["tool_calls"]
    usage = ADAPTER.usage(chunks[-1])
    assert (usage.input_tokens, usage.output_tokens, usage.cache_write_tokens) == (672, 89, 200)


def test_it_leaves_thinking_out_and_maps_max_tokens_to_length():
    chunks = feed_all(ADAPTER.stream_parser(), corpus("anthropic", "thinking_max_tokens.sse"))
    assert text_of_chunks(chunks) == "4"
    assert finish_reasons(chunks) == ["length"]
    assert ADAPTER.usage(chunks[-1]).output_tokens == 64


def test_it_raises_a_retryable_provider_error_on_an_overloaded_event():
    parser = ADAPTER.stream_parser()
    data = corpus("anthropic", "error.sse")
    cut = data.index(b"event: error")
    assert text_of_chunks(parser.feed(data[:cut])) == "Par"
    with pytest.raises(ProviderError) as info:
        parser.feed(data[cut:])
    assert (info.value.status, info.value.retryable, info.value.message) == (529, True, "Overloaded")


def test_it_still_reports_usage_when_the_stream_is_cut():
    data = corpus("anthropic", "text.sse")
    chunks = feed_all(ADAPTER.stream_parser(), data[:data.index(b"event: message_delta")])
    assert ADAPTER.usage(chunks[-1]).input_tokens == 1825


def test_it_skips_server_tool_blocks_in_streams():
    events = [
        {"type": "message_start", "message": {"id": "msg_s", "model": "c", "usage": {"input_tokens": 3}}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{}"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "web_search_tool_result",
                                                                      "tool_use_id": "srvtoolu_1", "content": []}},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": "Found it."}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "citations_delta", "citation": {}}},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}},
        {"type": "message_stop"},
    ]
    data = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()
    chunks = feed_all(ADAPTER.stream_parser(), data)
    assert text_of_chunks(chunks) == "Found it." and tool_calls_of_chunks(chunks) == {}
    assert finish_reasons(chunks) == ["stop"] and ADAPTER.usage(chunks[-1]).output_tokens == 4
