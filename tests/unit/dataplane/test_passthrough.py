import json

import pytest

from gateway.dataplane.adapters import ADAPTERS
from gateway.dataplane.adapters.body import insert_field, patch_body, replace_model
from gateway.dataplane.errors import GatewayError

from .support import corpus, feed_all

RAW = (b'{"model": "gpt-4o",  "messages": [{"role": "user", "content": "say \\"model\\": no",'
       b' "metadata": {"model": "inner"}}], "x_vendor_flag": {"deep": [1, 2.50, null]},'
       b' "temperature": 0.70, "unicode": "caf\\u00e9 \xe2\x98\x95"}')


def test_it_replaces_only_the_model_value_byte_for_byte():
    out = replace_model(RAW, "gpt-4o-2024-08-06")
    assert out == RAW.replace(b'"gpt-4o"', b'"gpt-4o-2024-08-06"', 1)


def test_it_keeps_every_unknown_field_and_nested_model_keys():
    body = json.loads(replace_model(RAW, "other"))
    original = json.loads(RAW)
    assert body.pop("model") == "other" and original.pop("model") == "gpt-4o"
    assert body == original
    assert body["messages"][0]["metadata"] == {"model": "inner"}


def test_it_finds_model_after_large_nested_fields():
    raw = b'{"messages": [{"role": "user", "content": "' + b"A" * 100_000 + b'"}], "model" : "m1"}'
    assert replace_model(raw, "m2").endswith(b'"model" : "m2"}')


def test_it_adds_model_when_absent_and_handles_unusual_shapes_safely():
    assert json.loads(replace_model(b'{"messages": []}', "m"))["model"] == "m"
    assert json.loads(replace_model(b'{"model": null, "a": 1}', "m")) == {"model": "m", "a": 1}
    assert json.loads(replace_model(b'{"\\u006dodel": "x"}', "m")) == {"model": "m"}
    assert replace_model(RAW, "") == RAW
    with pytest.raises(GatewayError):
        replace_model(b"[1, 2]", "m")
    with pytest.raises(GatewayError):
        replace_model(b"{not json", "m")


@pytest.mark.parametrize("raw", [
    b'{"model": "cheap-alias", "messages": [], "model": "gpt-4o"}',
    b'{"model": "cheap-alias", "messages": [], "\\u006dodel": "gpt-4o"}',
    b'{"mo\\u0064el": "gpt-4o", "messages": []}',
])
def test_it_never_lets_a_duplicate_or_escaped_model_key_reach_the_upstream(raw):
    """Routing reads the last/decoded key; the upstream must get exactly one model: the target's."""
    pairs = json.loads(replace_model(raw, "gpt-4o-mini"), object_pairs_hook=list)
    assert [value for key, value in pairs if key == "model"] == ["gpt-4o-mini"]


def test_it_splices_non_ascii_bodies_by_character():
    raw = '{"messages": [{"role": "user", "content": "日本語 ☕"}], "model": "m1", "x": "é"}'.encode()
    assert replace_model(raw, "m2") == '{"messages": [{"role": "user", "content": "日本語 ☕"}], "model": "m2", "x": "é"}'.encode()


def test_it_returns_an_unchanged_body_without_copying():
    raw = b'{"model": "m", "stream_options": {"include_usage": false}}'
    assert patch_body(raw, add={"stream_options": {"include_usage": True}}) is raw
    assert patch_body(raw) is raw


@pytest.mark.parametrize("raw", [b'{"model": "m"} trailing', b'{"model" "m"}', b'{"model": "m",}', b"\xff{}",
                                 b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", b""])
def test_it_rejects_bodies_that_are_not_one_json_object(raw):
    with pytest.raises(GatewayError) as info:
        replace_model(raw, "x")
    assert info.value.status == 400


def test_it_inserts_a_field_only_when_missing():
    assert json.loads(insert_field(b'{"a": 1}', "stream_options", {"include_usage": True})) == {
        "stream_options": {"include_usage": True}, "a": 1}
    assert json.loads(insert_field(b"{ }", "k", 1)) == {"k": 1}
    present = b'{"stream_options": {"include_usage": false}}'
    assert insert_field(present, "stream_options", {"include_usage": True}) == present


def test_it_passes_openai_bodies_through_with_model_and_auth(make_target):
    req = ADAPTERS["openai"].passthrough_request(RAW, make_target("openai", model="gpt-4o-mini"))
    assert req.url == "https://api.openai.com/v1/chat/completions"
    assert req.headers["authorization"].startswith("Bearer sk-test-")
    assert req.body == RAW.replace(b'"gpt-4o"', b'"gpt-4o-mini"', 1)


def test_it_asks_openai_streams_for_usage_when_the_client_did_not(make_target):
    raw = b'{"model": "a", "stream": true, "messages": []}'
    req = ADAPTERS["openai"].passthrough_request(raw, make_target(model="b"), stream=True)
    assert json.loads(req.body) == {"model": "b", "stream": True, "messages": [],
                                    "stream_options": {"include_usage": True}}
    assert req.stream is True
    mistral = ADAPTERS["mistral"].passthrough_request(raw, make_target("mistral", model="b"), stream=True)
    assert "stream_options" not in json.loads(mistral.body)


def test_it_passes_anthropic_bodies_through_with_its_headers(make_target):
    raw = b'{"model":"claude","max_tokens":5,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[]}'
    target = make_target("anthropic", model="claude-sonnet-4-20250514", options={"anthropic_beta": "a-1"})
    req = ADAPTERS["anthropic"].passthrough_request(raw, target, client_headers={"Anthropic-Beta": "b-2"})
    assert req.url == "https://api.anthropic.com/v1/messages"
    assert req.headers["x-api-key"] == target.api_key and "authorization" not in req.headers
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert req.headers["anthropic-beta"] == "a-1,b-2"
    assert json.loads(req.body)["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert json.loads(req.body)["model"] == "claude-sonnet-4-20250514"


@pytest.mark.parametrize(("kind", "provider", "name", "expected"), [
    ("openai", "openai", "text.sse", (1200, 9, 1024)),
    ("groq", "openai", "groq_usage_on_last_chunk.sse", (18, 3, 0)),
    ("anthropic", "anthropic", "text.sse", (1825, 12, 1800)),
    ("anthropic", "anthropic", "thinking_max_tokens.sse", (30, 64, 0)),
])
def test_it_taps_usage_from_passed_through_streams(kind, provider, name, expected):
    tap = ADAPTERS[kind].usage_tap()
    data = corpus(provider, name)
    for i in range(0, len(data), 7):
        tap.feed(data[i:i + 7])
    usage = tap.close()
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens) == expected


def test_it_taps_nothing_from_garbage_without_raising():
    tap = ADAPTERS["anthropic"].usage_tap()
    tap.feed(b"event: message_start\ndata: {not json\n\nevent: message_delta\ndata: []\n\n")
    assert tap.close() is None


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_it_lets_relays_feed_parsed_events_to_the_tap_without_raising(kind):
    from gateway.dataplane.sse import SSEEvent

    tap = ADAPTERS[kind].usage_tap()
    for ev in (SSEEvent('{"prompt_tokens": broken', "message"), SSEEvent("[]", "message_start"),
               SSEEvent('{"usage": 5, "prompt_tokens": 1}', "message_delta")):
        tap.on_event(ev)
    assert tap.usage is None


def test_it_reads_usage_from_passed_through_responses():
    anthropic_body = b'{"usage":{"input_tokens":5,"cache_read_input_tokens":10,"output_tokens":3}}'
    usage = ADAPTERS["anthropic"].passthrough_usage(anthropic_body)
    assert (usage.input_tokens, usage.cached_tokens, usage.output_tokens) == (15, 10, 3)
    openai_body = b'{"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}'
    assert ADAPTERS["openai"].passthrough_usage(openai_body).input_tokens == 7
    assert ADAPTERS["openai"].passthrough_usage(b"garbage") is None


def test_it_does_not_pass_through_to_gemini(make_target):
    with pytest.raises(GatewayError):
        ADAPTERS["gemini"].passthrough_request(b"{}", make_target("gemini"))


def test_it_translates_a_tapped_stream_the_same_as_the_parser():
    data = corpus("openai", "text.sse")
    chunks = feed_all(ADAPTERS["openai"].stream_parser(), data)
    assert ADAPTERS["openai"].usage(chunks[-1]).input_tokens == 1200
