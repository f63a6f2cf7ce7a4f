import json

import pytest

from gateway.dataplane.adapters import ADAPTERS
from gateway.dataplane.adapters.gemini_request import SIGNATURE_SEP
from gateway.dataplane.canonical import Target
from gateway.dataplane.errors import GatewayError, ProviderError

from .support import corpus, feed_all, finish_reasons, text_of_chunks, tool_calls_of_chunks

ADAPTER = ADAPTERS["gemini"]
KEY = "AIzaSyD-test-0123456789abcdefghijk"
TARGET = Target("gemini", api_key=KEY, model="gemini-2.5-flash")
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather by city",
    "parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                   "properties": {"location": {"type": "string"}}, "additionalProperties": False}}}]


def body_of(canonical, **kwargs):
    return json.loads(ADAPTER.build_request(canonical, TARGET, **kwargs).body)


@pytest.mark.parametrize(("stream", "endpoint", "suffix"), [
    (False, "chat", "/v1beta/models/gemini-2.5-flash:generateContent"),
    (True, "chat", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
    (False, "embeddings", "/v1beta/models/gemini-2.5-flash:batchEmbedContents"),
])
def test_it_puts_the_api_key_in_a_header_never_the_url(stream, endpoint, suffix):
    canonical = {"input": ["a"]} if endpoint == "embeddings" else {"messages": [{"role": "user", "content": "x"}]}
    req = ADAPTER.build_request(canonical, TARGET, stream=stream, endpoint=endpoint)
    assert req.url == "https://generativelanguage.googleapis.com" + suffix
    assert req.headers["x-goog-api-key"] == KEY
    assert KEY not in req.url and "key=" not in req.url and KEY.encode() not in req.body


def test_it_takes_the_model_from_the_request_when_the_target_has_none():
    req = ADAPTER.build_request({"model": "tunedModels/mine", "messages": []}, Target("gemini", api_key=KEY),
                                stream=False)
    assert req.url.endswith("/v1beta/tunedModels/mine:generateContent")


def test_it_translates_messages_system_images_and_generation_config():
    body = body_of({
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklGRg=="}},
                {"type": "image_url", "image_url": {"url": "https://example.test/a/cat.png?size=2"}},
            ]},
            {"role": "assistant", "content": "A cat."},
            {"role": "user", "content": "Sure?"},
        ],
        "temperature": 0.3, "top_p": 0.8, "max_tokens": 50, "stop": ["\n\n"], "n": 2, "seed": 7,
        "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object",
                                                                              "additionalProperties": False}}},
    })
    assert body["systemInstruction"] == {"parts": [{"text": "Be terse."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [
            {"text": "What is this?"},
            {"inlineData": {"mimeType": "image/webp", "data": "UklGRg=="}},
            {"fileData": {"mimeType": "image/png", "fileUri": "https://example.test/a/cat.png?size=2"}},
        ]},
        {"role": "model", "parts": [{"text": "A cat."}]},
        {"role": "user", "parts": [{"text": "Sure?"}]},
    ]
    assert body["generationConfig"] == {
        "temperature": 0.3, "topP": 0.8, "seed": 7, "candidateCount": 2, "maxOutputTokens": 50,
        "stopSequences": ["\n\n"], "responseMimeType": "application/json", "responseSchema": {"type": "object"},
    }


@pytest.mark.parametrize(("choice", "config"), [
    ("auto", {"mode": "AUTO"}), ("required", {"mode": "ANY"}), ("none", {"mode": "NONE"}),
    ({"type": "function", "function": {"name": "get_weather"}}, {"mode": "ANY",
                                                                   "allowedFunctionNames": ["get_weather"]}),
])
def test_it_translates_function_declarations_and_tool_choice(choice, config):
    body = body_of({"messages": [{"role": "user", "content": "x"}], "tools": TOOLS, "tool_choice": choice})
    assert body["tools"] == [{"functionDeclarations": [{
        "name": "get_weather", "description": "Weather by city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}]}]
    assert body["toolConfig"] == {"functionCallingConfig": config}


def test_it_maps_tool_results_to_function_responses_by_name_and_keeps_thought_signatures():
    body = body_of({"messages": [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_a" + SIGNATURE_SEP + "c2lnbmF0dXJl", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'}},
            {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
        ]},
        {"role": "tool", "tool_call_id": "call_a" + SIGNATURE_SEP + "c2lnbmF0dXJl", "content": '{"temp": 18}'},
        {"role": "tool", "tool_call_id": "call_b", "content": "21C"},
    ]})
    assert body["contents"][1] == {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}, "thoughtSignature": "c2lnbmF0dXJl"},
        {"functionCall": {"name": "get_weather", "args": {}}},
    ]}
    assert body["contents"][2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"temp": 18}}},
        {"functionResponse": {"name": "get_weather", "response": {"result": "21C"}}},
    ]}


RESPONSE = {
    "candidates": [{
        "content": {"role": "model", "parts": [
            {"text": "thinking...", "thought": True},
            {"text": "Calling."},
            {"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}, "thoughtSignature": "U0lH"},
        ]},
        "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 3000, "candidatesTokenCount": 20, "totalTokenCount": 3070,
                      "cachedContentTokenCount": 2048, "thoughtsTokenCount": 50},
    "modelVersion": "gemini-2.5-flash", "responseId": "resp-1",
}


def test_it_translates_responses_with_tool_calls_cached_and_thought_tokens():
    out = ADAPTER.parse_response(200, json.dumps(RESPONSE).encode())
    message = out["choices"][0]["message"]
    assert (out["id"], out["model"], message["content"]) == ("resp-1", "gemini-2.5-flash", "Calling.")
    [call] = message["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"location":"Paris"}'}
    assert call["id"].endswith(SIGNATURE_SEP + "U0lH")
    assert out["choices"][0]["finish_reason"] == "tool_calls"
    usage = ADAPTER.usage(out)
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens, usage.reasoning_tokens) == (3000, 70, 2048,
                                                                                                      50)


@pytest.mark.parametrize(("reason", "finish"), [
    ("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("RECITATION", "content_filter"),
    ("PROHIBITED_CONTENT", "content_filter"), ("OTHER", "stop"), (None, "stop"),
])
def test_it_maps_finish_reasons(reason, finish):
    body = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": reason}]}
    assert ADAPTER.parse_response(200, json.dumps(body).encode())["choices"][0]["finish_reason"] == finish


def test_it_reports_a_blocked_prompt_as_content_filter():
    out = ADAPTER.parse_response(200, b'{"promptFeedback": {"blockReason": "SAFETY"}}')
    assert out["choices"][0]["finish_reason"] == "content_filter" and "usage" not in out


@pytest.mark.parametrize("step", [None, 1, 29])
def test_it_parses_the_recorded_crlf_text_stream(step):
    chunks = feed_all(ADAPTER.stream_parser(), corpus("gemini", "text.sse"), step)
    assert text_of_chunks(chunks) == "The quick brown fox jumps."
    assert finish_reasons(chunks) == ["stop"]
    usage = ADAPTER.usage(chunks[-1])
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens, usage.reasoning_tokens) == (2100, 31, 2048,
                                                                                                      25)


def test_it_parses_recorded_parallel_function_calls():
    chunks = feed_all(ADAPTER.stream_parser(), corpus("gemini", "function_call.sse"), 3)
    calls = tool_calls_of_chunks(chunks)
    assert [(c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
        ("get_weather", {"location": "Paris"}), ("get_time", {"tz": "Europe/Paris"})]
    assert list(calls) == [0, 1] and calls[0]["id"].endswith(SIGNATURE_SEP + "CiQB0e2Kb7Qm+sig/abc==")
    assert finish_reasons(chunks) == ["tool_calls"]


def test_it_parses_a_safety_stop_mid_stream():
    chunks = feed_all(ADAPTER.stream_parser(), corpus("gemini", "safety.sse"))
    assert text_of_chunks(chunks) == "I can" and finish_reasons(chunks) == ["content_filter"]


def test_it_raises_a_provider_error_on_a_stream_error():
    with pytest.raises(ProviderError) as info:
        feed_all(ADAPTER.stream_parser(), corpus("gemini", "error.sse"))
    assert (info.value.status, info.value.retryable, info.value.code) == (503, True, "UNAVAILABLE")


def test_it_builds_and_parses_batch_embeddings():
    body = body_of({"input": ["one", "two"], "dimensions": 4}, endpoint="embeddings")
    assert body == {"requests": [
        {"model": "models/gemini-2.5-flash", "content": {"parts": [{"text": "one"}]}, "outputDimensionality": 4},
        {"model": "models/gemini-2.5-flash", "content": {"parts": [{"text": "two"}]}, "outputDimensionality": 4}]}
    out = ADAPTER.parse_response(200, b'{"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]}',
                                 endpoint="embeddings")
    assert [d["embedding"] for d in out["data"]] == [[0.1, 0.2], [0.3, 0.4]] and ADAPTER.usage(out) is None
    with pytest.raises(GatewayError):
        body_of({"input": [[1, 2, 3]]}, endpoint="embeddings")


def test_it_sends_only_the_string_texts_of_a_tool_result():
    # Found by test_fuzz_streams: a part whose "text" is not a string made the join a TypeError (a 500).
    body = body_of({"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "get",
         "content": [{"type": "file", "text": [None]}, {"type": "text", "text": "sunny"}, {"type": "text", "text": 7}]},
    ]})
    response = body["contents"][-1]["parts"][0]["functionResponse"]["response"]
    assert response == {"result": "sunny"}
