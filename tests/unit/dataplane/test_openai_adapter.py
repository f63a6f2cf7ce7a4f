import copy
import json

import pytest

from gateway.dataplane.adapters import ADAPTERS
from gateway.dataplane.canonical import client_wants_usage, is_usage_chunk, strip_usage
from gateway.dataplane.errors import ProviderError

from .support import corpus, feed_all, finish_reasons, text_of_chunks, tool_calls_of_chunks

REQUEST = {
    "model": "client-model",
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    "temperature": 0.2,
    "x_unknown": {"kept": True},
}


@pytest.mark.parametrize(("kind", "url"), [
    ("openai", "https://api.openai.com/v1/chat/completions"),
    ("mistral", "https://api.mistral.ai/v1/chat/completions"),
    ("groq", "https://api.groq.com/openai/v1/chat/completions"),
    ("deepseek", "https://api.deepseek.com/v1/chat/completions"),
    ("together", "https://api.together.xyz/v1/chat/completions"),
    ("openrouter", "https://openrouter.ai/api/v1/chat/completions"),
    ("vllm", "http://localhost:8000/v1/chat/completions"),
    ("ollama", "http://localhost:11434/v1/chat/completions"),
])
def test_it_builds_requests_for_every_openai_wire_preset(kind, url, make_target):
    req = ADAPTERS[kind].build_request(REQUEST, make_target(kind))
    assert (req.method, req.url, req.stream) == ("POST", url, False)
    assert req.headers["authorization"] == "Bearer " + make_target().api_key
    body = json.loads(req.body)
    assert body["model"] == "upstream-model" and body["x_unknown"] == {"kept": True}


def test_it_uses_the_target_base_url_and_extra_headers(make_target):
    target = make_target("openai_compatible", base_url="https://llm.internal.test/v1/", api_key="",
                         headers={"HTTP-Referer": "https://switchyard.test"})
    req = ADAPTERS["openai_compatible"].build_request(REQUEST, target, endpoint="embeddings")
    assert req.url == "https://llm.internal.test/v1/embeddings"
    assert "authorization" not in req.headers and req.headers["HTTP-Referer"] == "https://switchyard.test"


def test_it_builds_azure_deployment_urls_with_an_api_key_header(make_target):
    target = make_target("azure_openai", base_url="https://acme.openai.azure.com/", model="gpt-4o",
                         options={"deployments": {"gpt-4o": "prod gpt4o"}, "api_version": "2024-10-21"})
    req = ADAPTERS["azure_openai"].build_request(REQUEST, target, stream=True)
    assert req.url == ("https://acme.openai.azure.com/openai/deployments/prod%20gpt4o/chat/completions"
                       "?api-version=2024-10-21")
    assert req.headers["api-key"] == target.api_key and "authorization" not in req.headers
    plain = make_target("azure_openai", base_url="https://acme.openai.azure.com", model="gpt-4o-mini")
    assert "/deployments/gpt-4o-mini/chat/completions?api-version=" in ADAPTERS["azure_openai"].build_request(
        REQUEST, plain, endpoint="chat").url


def test_it_forces_include_usage_on_streams_keeping_other_stream_options(make_target):
    req = dict(REQUEST, stream_options={"include_obfuscation": False})
    body = json.loads(ADAPTERS["openai"].build_request(req, make_target(), stream=True).body)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_obfuscation": False, "include_usage": True}


def test_it_does_not_send_stream_options_to_mistral(make_target):
    body = json.loads(ADAPTERS["mistral"].build_request(REQUEST, make_target("mistral"), stream=True).body)
    assert body["stream"] is True and "stream_options" not in body


def test_it_strips_stream_fields_from_non_streaming_requests(make_target):
    req = dict(REQUEST, stream=True, stream_options={"include_usage": True})
    body = json.loads(ADAPTERS["openai"].build_request(req, make_target(), stream=False).body)
    assert "stream" not in body and "stream_options" not in body


def test_it_is_pure_and_idempotent_across_retries(make_target):
    req = dict(REQUEST, stream_options={"include_usage": False})
    before = copy.deepcopy(req)
    first = ADAPTERS["openai"].build_request(req, make_target(), stream=True)
    second = ADAPTERS["openai"].build_request(req, make_target(), stream=True)
    assert req == before and first == second


def test_it_parses_responses_and_raises_classified_errors():
    body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hey"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11,
                      "prompt_tokens_details": {"cached_tokens": 4}}}
    adapter = ADAPTERS["openai"]
    parsed = adapter.parse_response(200, json.dumps(body).encode())
    assert parsed == body
    usage = adapter.usage(parsed)
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens, usage.estimated) == (10, 1, 4, False)
    with pytest.raises(ProviderError) as info:
        adapter.parse_response(429, b'{"error": {"message": "slow", "code": "rate_limit_exceeded"}}')
    assert info.value.retryable and info.value.message == "slow"
    with pytest.raises(ProviderError):
        adapter.parse_response(200, b"[]")


def test_it_reads_deepseek_cache_hits_from_the_top_level_field():
    body = {"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 5, "prompt_cache_hit_tokens": 64}}
    assert ADAPTERS["deepseek"].usage(body).cached_tokens == 64


@pytest.mark.parametrize("step", [None, 1, 13])
def test_it_parses_the_recorded_text_stream(step):
    chunks = feed_all(ADAPTERS["openai"].stream_parser(), corpus("openai", "text.sse"), step)
    assert text_of_chunks(chunks) == "Hello! How can I help you today?"
    assert finish_reasons(chunks) == ["stop"]
    assert all("usage" not in c for c in chunks[:-1])
    assert is_usage_chunk(chunks[-1])
    usage = ADAPTERS["openai"].usage(chunks[-1])
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens) == (1200, 9, 1024)


def test_it_parses_parallel_tool_call_streams():
    chunks = feed_all(ADAPTERS["openai"].stream_parser(), corpus("openai", "tool_calls.sse"), 5)
    calls = tool_calls_of_chunks(chunks)
    assert calls == {
        0: {"id": "call_Weather1", "name": "get_weather", "arguments": '{"location": "Paris"}'},
        1: {"id": "call_Time2", "name": "get_time", "arguments": '{"tz": "Europe/Paris"}'},
    }
    assert finish_reasons(chunks) == ["tool_calls"]


@pytest.mark.parametrize(("name", "text", "usage"), [
    ("groq_usage_on_last_chunk.sse", "Fast inference.", (18, 3)),
    ("openrouter_comments.sse", "Hi there", (12, 2)),
])
def test_it_normalizes_usage_sent_on_content_chunks(name, text, usage):
    chunks = feed_all(ADAPTERS["openai"].stream_parser(), corpus("openai", name), 9)
    assert text_of_chunks(chunks) == text
    assert [is_usage_chunk(c) for c in chunks].count(True) == 1 and is_usage_chunk(chunks[-1])
    got = ADAPTERS["openai"].usage(chunks[-1])
    assert (got.input_tokens, got.output_tokens) == usage


def test_it_keeps_the_latest_running_usage_total():
    events = b"".join(
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"x"}}],"usage":{"prompt_tokens":5,'
        b'"completion_tokens":%d}}\n\n' % n for n in (1, 2, 3)) + b"data: [DONE]\n\n"
    chunks = feed_all(ADAPTERS["vllm"].stream_parser(), events)
    assert len(chunks) == 4 and chunks[-1]["usage"]["completion_tokens"] == 3


def test_it_raises_provider_error_on_a_stream_error_event():
    parser = ADAPTERS["openai"].stream_parser()
    data = corpus("openai", "error.sse")
    head, tail = data[:200], data[200:]
    assert text_of_chunks(parser.feed(head)) == ""
    with pytest.raises(ProviderError) as info:
        parser.feed(tail)
    assert info.value.status == 502 and "server had an error" in info.value.message


def test_it_ignores_events_after_done():
    chunks = feed_all(ADAPTERS["openai"].stream_parser(), b"data: [DONE]\n\ndata: {broken\n\n")
    assert chunks == []


def test_it_decides_usage_chunk_stripping_like_openai():
    chunks = feed_all(ADAPTERS["openai"].stream_parser(), corpus("openai", "text.sse"))
    assert not client_wants_usage({"stream": True})
    assert not client_wants_usage({"stream_options": {"include_usage": False}})
    assert client_wants_usage({"stream_options": {"include_usage": True}})
    stripped = [c for c in (strip_usage(c) for c in chunks) if c is not None]
    assert len(stripped) == len(chunks) - 1 and not any(is_usage_chunk(c) for c in stripped)
    assert text_of_chunks(stripped) == text_of_chunks(chunks)


def test_it_builds_and_parses_embeddings_requests(make_target):
    req = ADAPTERS["openai"].build_request({"model": "e", "input": ["a", "b"], "encoding_format": "base64"},
                                           make_target(model="text-embedding-3-small"), endpoint="embeddings")
    assert req.url.endswith("/v1/embeddings")
    assert json.loads(req.body) == {"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "base64"}
    body = b'{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1]}],"model":"m",' \
           b'"usage":{"prompt_tokens":2,"total_tokens":2}}'
    parsed = ADAPTERS["openai"].parse_response(200, body, endpoint="embeddings")
    assert ADAPTERS["openai"].usage(parsed).input_tokens == 2
