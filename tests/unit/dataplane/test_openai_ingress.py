import json

import httpx2
import openai
import pytest

from gateway.dataplane.adapters import ADAPTERS
from gateway.dataplane.canonical import strip_usage
from gateway.dataplane.errors import GatewayError
from gateway.dataplane.formats import load_json_object
from gateway.dataplane.formats.openai import (
    DONE,
    encode_chunk,
    encode_error,
    validate_chat_request,
    validate_embeddings_request,
)

from .support import corpus, feed_all

VALID = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": "https://example.test/x.png"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
    ],
    "tools": [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}}}],
    "tool_choice": {"type": "function", "function": {"name": "look"}},
    "temperature": 1, "top_p": 0.5, "n": 1, "max_tokens": 10, "stop": ["x"], "stream": False, "seed": None,
    "vendor_extension": {"anything": True},
}


def test_it_accepts_a_valid_request_as_is():
    assert validate_chat_request(VALID) is VALID


@pytest.mark.parametrize(("patch", "param", "code"), [
    ({"model": None}, "model", "missing_required_parameter"),
    ({"model": 3}, "model", "invalid_type"),
    ({"messages": None}, "messages", "missing_required_parameter"),
    ({"messages": "hi"}, "messages", "invalid_type"),
    ({"messages": []}, "messages", "invalid_type"),
    ({"messages": ["hi"]}, "messages[0]", "invalid_type"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "invalid_value"),
    ({"messages": [{"role": "user"}]}, "messages[0].content", "missing_required_parameter"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content", "invalid_type"),
    ({"messages": [{"role": "user", "content": [{"text": "x"}]}]}, "messages[0].content[0]", "invalid_type"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": None}]}]}, "messages[0].content[0].text",
     "invalid_type"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
     "messages[0].content[0].image_url.url", "invalid_type"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id", "invalid_type"),
    ({"messages": [{"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "f",
                                                                                       "arguments": {}}}]}]},
     "messages[0].tool_calls[0].function.arguments", "invalid_type"),
    ({"messages": [{"role": "user", "content": "x", "tool_calls": []}]}, "messages[0].tool_calls", "invalid_type"),
    ({"n": 0}, "n", "invalid_value"),
    ({"n": True}, "n", "invalid_type"),
    ({"max_tokens": 0}, "max_tokens", "invalid_value"),
    ({"max_completion_tokens": "10"}, "max_completion_tokens", "invalid_type"),
    ({"temperature": 2.5}, "temperature", "invalid_value"),
    ({"temperature": "hot"}, "temperature", "invalid_type"),
    ({"top_p": -0.1}, "top_p", "invalid_value"),
    ({"stream": "yes"}, "stream", "invalid_type"),
    ({"stop": [1]}, "stop", "invalid_type"),
    ({"tools": {}}, "tools", "invalid_type"),
    ({"tools": [{"type": "function", "function": {}}]}, "tools[0].function.name", "invalid_type"),
    ({"tool_choice": "always"}, "tool_choice", "invalid_value"),
])
def test_it_rejects_malformed_requests_with_a_clear_param(patch, param, code):
    with pytest.raises(GatewayError) as info:
        validate_chat_request({**VALID, **patch})
    err = info.value
    assert (err.status, err.param, err.code, err.type) == (400, param, code, "invalid_request_error")
    assert param.split(".")[0].split("[")[0] in err.message


@pytest.mark.parametrize("body", [
    {"model": "e", "input": "text"}, {"model": "e", "input": ["a", "b"]}, {"model": "e", "input": [1, 2]},
    {"model": "e", "input": [[1], [2, 3]], "dimensions": 8, "encoding_format": "base64"},
])
def test_it_accepts_valid_embeddings_requests(body):
    assert validate_embeddings_request(body) is body


@pytest.mark.parametrize(("body", "param"), [
    ({"input": "x"}, "model"), ({"model": "e"}, "input"), ({"model": "e", "input": []}, "input"),
    ({"model": "e", "input": ["a", 1]}, "input"), ({"model": "e", "input": [[]]}, "input"),
    ({"model": "e", "input": "x", "dimensions": 0}, "dimensions"),
    ({"model": "e", "input": "x", "encoding_format": "hex"}, "encoding_format"),
])
def test_it_rejects_malformed_embeddings_requests(body, param):
    with pytest.raises(GatewayError) as info:
        validate_embeddings_request(body)
    assert info.value.param == param


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b'"x"', b"[" * 100_000])
def test_it_loads_json_objects_only(raw):
    with pytest.raises(GatewayError) as info:
        load_json_object(raw)
    assert info.value.status == 400


def sdk(body: bytes) -> openai.OpenAI:
    def handler(request):
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return openai.OpenAI(api_key="sy-test", base_url="http://gw.test/v1", max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))


def sse_for_client(chunks, wants_usage: bool) -> bytes:
    kept = chunks if wants_usage else [c for c in (strip_usage(c) for c in chunks) if c is not None]
    return b"".join(encode_chunk(c) for c in kept) + DONE


@pytest.mark.parametrize("wants_usage", [False, True])
def test_it_encodes_anthropic_upstream_chunks_the_openai_sdk_reads(wants_usage):
    chunks = feed_all(ADAPTERS["anthropic"].stream_parser(), corpus("anthropic", "tool_use.sse"))
    client = sdk(sse_for_client(chunks, wants_usage))
    kwargs = {"stream_options": {"include_usage": True}} if wants_usage else {}
    with client.chat.completions.stream(model="m", messages=[{"role": "user", "content": "x"}], **kwargs) as s:
        final = s.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Let me check both."
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [
        ("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", {"location": "San Francisco, CA"}),
        ("toolu_02ABCdefGHIjkl", "get_time", {"tz": "America/Los_Angeles"})]
    assert final.choices[0].finish_reason == "tool_calls"
    if wants_usage:
        assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (672, 89)
    else:
        assert final.usage is None


def test_it_encodes_an_error_event_the_openai_sdk_raises():
    chunks = feed_all(ADAPTERS["gemini"].stream_parser(), corpus("gemini", "text.sse"))[:2]
    body = b"".join(encode_chunk(c) for c in chunks) + encode_error(GatewayError(502, "upstream_error", "gone"))
    stream = sdk(body).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
    with pytest.raises(openai.APIError, match="gone"):
        list(stream)
