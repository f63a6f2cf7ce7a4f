"""The fake upstreams speak each provider's wire format and fail on demand."""
import base64
import json
import struct
import time

import anthropic
import httpx
import openai
import pytest

from tests.fakes import FakeUpstream, closed_port, embedding, parse, refused_url, start_in_thread, words

QUESTION = "hello big wide world"
SYSTEM = "You are terse."
PROMPT_TOKENS = words(SYSTEM) + words(QUESTION)  # 3 + 4
REPLY = "echo: " + QUESTION
COMPLETION_TOKENS = words(REPLY)  # 5
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"text": {"type": "string"}}}},
}
CLOCK_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


def oai(fake, **kw):
    return openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, **kw)


def claude(fake, **kw):
    return anthropic.Anthropic(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, **kw)


def chat_messages():
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]


def chat_body(stream=False, **extra):
    return {"model": "gpt-4o", "messages": chat_messages(), "stream": stream, **extra}


def post_openai(fake, body, headers=None, **kw):
    return httpx.post(fake.base_url + "/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {fake.api_key}", **(headers or {})}, **kw)


def stream_openai(fake, scenario, **kw):
    """httpx.stream() of a streaming chat request under a scenario; a context manager."""
    return httpx.stream("POST", fake.base_url + "/chat/completions", json=chat_body(stream=True),
                        headers={"Authorization": f"Bearer {fake.api_key}", "x-fake-scenario": scenario}, **kw)


def sse_data(text):
    return [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]


def gemini_url(fake, model="gemini-2.5-flash", action="generateContent"):
    return f"{fake.base_url}/models/{model}:{action}"


GEMINI_BODY = {
    "systemInstruction": {"parts": [{"text": SYSTEM}]},
    "contents": [{"role": "user", "parts": [{"text": QUESTION}]}],
}


# ---- OpenAI ---------------------------------------------------------------
def test_it_serves_openai_chat_to_the_official_sdk(fake_openai):
    resp = oai(fake_openai).chat.completions.create(model="gpt-4o", messages=chat_messages())

    assert resp.choices[0].message.content == REPLY
    assert resp.choices[0].finish_reason == "stop"
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert resp.usage.total_tokens == PROMPT_TOKENS + COMPLETION_TOKENS
    assert resp.usage.prompt_tokens_details.cached_tokens == 0
    assert resp.usage.completion_tokens_details.reasoning_tokens == 0
    assert resp.model == "gpt-4o"


def test_it_streams_openai_chunks_then_usage_then_done(fake_openai):
    stream = oai(fake_openai).chat.completions.create(
        model="gpt-4o", messages=chat_messages(), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == COMPLETION_TOKENS
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == COMPLETION_TOKENS
    raw = post_openai(fake_openai, chat_body(stream=True)).text
    assert sse_data(raw)[-1] == "[DONE]"
    assert all("usage" not in json.loads(d) for d in sse_data(raw)[:-1])  # no include_usage: no usage at all


def test_it_returns_parallel_openai_tool_calls_when_asked(fake_openai):
    client = oai(fake_openai)
    resp = client.chat.completions.create(
        model="gpt-4o~tool_calls:2", messages=chat_messages(), tools=[WEATHER_TOOL, CLOCK_TOOL]
    )

    calls = resp.choices[0].message.tool_calls
    assert resp.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert [json.loads(c.function.arguments) for c in calls] == [{"text": QUESTION}] * 2
    assert resp.usage.completion_tokens == sum(words(f"{c.function.name} {c.function.arguments}") for c in calls)

    streamed: dict[int, dict] = {}
    for chunk in client.chat.completions.create(model="gpt-4o", messages=chat_messages(), tools=[WEATHER_TOOL],
                                                stream=True):
        for delta in chunk.choices[0].delta.tool_calls or []:
            entry = streamed.setdefault(delta.index, {"name": "", "arguments": ""})
            entry["name"] += delta.function.name or ""
            entry["arguments"] += delta.function.arguments or ""
    assert streamed == {0: {"name": "get_weather", "arguments": json.dumps({"text": QUESTION})}}


def test_it_answers_with_text_after_an_openai_tool_result(fake_openai):
    messages = chat_messages() + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    resp = oai(fake_openai).chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL])

    assert resp.choices[0].message.content == REPLY
    assert resp.usage.prompt_tokens == PROMPT_TOKENS + 1  # the tool result's text counts


def test_it_embeds_with_the_openai_sdk_as_floats_and_base64(fake_openai):
    client = oai(fake_openai)
    resp = client.embeddings.create(model="text-embedding-3-small", input=["one two", "three"], encoding_format="float")

    assert [d.embedding for d in resp.data] == [embedding("one two"), embedding("three")]
    assert (resp.usage.prompt_tokens, resp.usage.total_tokens) == (3, 3)
    raw = httpx.post(fake_openai.base_url + "/embeddings", headers={"Authorization": f"Bearer {fake_openai.api_key}"},
                     json={"model": "m", "input": "one", "encoding_format": "base64", "dimensions": 4}).json()
    assert list(struct.unpack("<4f", base64.b64decode(raw["data"][0]["embedding"]))) == embedding("one", 4)


def test_it_lists_models_on_every_wire(fake_openai, fake_anthropic, fake_gemini):
    gemini = httpx.get(fake_gemini.base_url + "/models", headers={"x-goog-api-key": fake_gemini.api_key}).json()

    assert "gpt-4o" in [m.id for m in oai(fake_openai).models.list()]
    assert [m.id for m in claude(fake_anthropic).models.list()] == list(fake_anthropic.wire.model_ids)
    assert gemini["models"][0]["name"] == "models/gemini-2.5-flash"


def test_it_rejects_a_wrong_openai_key_in_openai_envelope(fake_openai):
    with pytest.raises(openai.AuthenticationError) as err:
        openai.OpenAI(api_key="sk-wrong", base_url=fake_openai.base_url, max_retries=0).models.list()

    assert err.value.status_code == 401
    assert err.value.body == {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                              "param": None, "code": "invalid_api_key"}


# ---- Anthropic ------------------------------------------------------------
def test_it_serves_anthropic_messages_to_the_official_sdk(fake_anthropic):
    msg = claude(fake_anthropic).messages.create(
        model="claude-test~cached:2+cache_write:1", max_tokens=100, system=SYSTEM,
        messages=[{"role": "user", "content": QUESTION}],
    )

    assert msg.content[0].type == "text" and msg.content[0].text == REPLY
    assert msg.stop_reason == "end_turn"
    assert msg.model == "claude-test"
    assert (msg.usage.input_tokens, msg.usage.cache_read_input_tokens, msg.usage.cache_creation_input_tokens) == (
        PROMPT_TOKENS - 3, 2, 1)
    assert msg.usage.output_tokens == COMPLETION_TOKENS
    assert fake_anthropic.last_request.headers["anthropic-version"]


def test_it_streams_anthropic_events_in_order(fake_anthropic):
    resp = httpx.post(fake_anthropic.base_url + "/v1/messages", json={
        "model": "claude-test", "max_tokens": 100, "stream": True, "messages": [{"role": "user", "content": "a b"}],
    }, headers={"x-api-key": fake_anthropic.api_key, "anthropic-version": "2023-06-01"})
    names = [line[len("event: "):] for line in resp.text.splitlines() if line.startswith("event: ")]

    assert names == ["message_start", "content_block_start", "ping"] + ["content_block_delta"] * 3 + [
        "content_block_stop", "message_delta", "message_stop"]
    with claude(fake_anthropic).messages.stream(model="claude-test", max_tokens=100, system=SYSTEM,
                                                messages=[{"role": "user", "content": QUESTION}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == REPLY
    assert (final.usage.input_tokens, final.usage.output_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)


def test_it_streams_anthropic_tool_use_input_json(fake_anthropic):
    tool = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}}}
    kw = {"model": "claude-test", "max_tokens": 100, "tools": [tool],
          "messages": [{"role": "user", "content": QUESTION}]}
    client = claude(fake_anthropic)
    plain = client.messages.create(**kw)
    with client.messages.stream(**kw) as stream:
        final = stream.get_final_message()

    for msg in (plain, final):
        assert msg.stop_reason == "tool_use"
        assert [(b.type, b.name, b.input) for b in msg.content] == [("tool_use", "get_weather", {"text": QUESTION})]


def test_it_requires_anthropic_key_and_version(fake_anthropic):
    url = fake_anthropic.base_url + "/v1/messages"
    no_version = httpx.post(url, json={}, headers={"x-api-key": fake_anthropic.api_key})
    wrong_key = httpx.post(url, json={}, headers={"x-api-key": "nope", "anthropic-version": "2023-06-01"})

    assert no_version.status_code == 400 and no_version.json()["error"]["type"] == "invalid_request_error"
    assert wrong_key.status_code == 401
    assert wrong_key.json() == {"type": "error", "error": {"type": "authentication_error",
                                                            "message": "invalid x-api-key"}}


# ---- Gemini ---------------------------------------------------------------
def test_it_answers_gemini_generate_content_with_key_in_header_or_query(fake_gemini):
    by_header = httpx.post(gemini_url(fake_gemini), json=GEMINI_BODY, headers={"x-goog-api-key": fake_gemini.api_key})
    by_query = httpx.post(gemini_url(fake_gemini), json=GEMINI_BODY, params={"key": fake_gemini.api_key})

    assert by_header.json() == by_query.json() | {"responseId": "fake-0"}
    cand = by_header.json()["candidates"][0]
    assert cand["content"] == {"parts": [{"text": REPLY}], "role": "model"}
    assert cand["finishReason"] == "STOP"
    usage = by_header.json()["usageMetadata"]
    assert (usage["promptTokenCount"], usage["candidatesTokenCount"], usage["totalTokenCount"]) == (
        PROMPT_TOKENS, COMPLETION_TOKENS, PROMPT_TOKENS + COMPLETION_TOKENS)
    assert "cachedContentTokenCount" not in usage  # Google omits zero counts


def test_it_streams_gemini_sse_with_cumulative_usage(fake_gemini):
    resp = httpx.post(gemini_url(fake_gemini, "gemini-2.5-flash~cached:2", "streamGenerateContent"),
                      params={"alt": "sse"}, json=GEMINI_BODY, headers={"x-goog-api-key": fake_gemini.api_key})
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.text.endswith("\r\n\r\n")  # Google's line endings
    chunks = [json.loads(d) for d in sse_data(resp.text)]

    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == REPLY
    assert [c["usageMetadata"]["candidatesTokenCount"] for c in chunks] == list(range(1, COMPLETION_TOKENS + 1))
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])
    assert chunks[-1]["usageMetadata"]["cachedContentTokenCount"] == 2


def test_it_returns_gemini_function_calls_and_embeddings(fake_gemini):
    headers = {"x-goog-api-key": fake_gemini.api_key}
    body = GEMINI_BODY | {"tools": [{"functionDeclarations": [{"name": "get_weather"}]}]}
    resp = httpx.post(gemini_url(fake_gemini), json=body, headers=headers).json()
    embeds = httpx.post(gemini_url(fake_gemini, "text-embedding-004", "batchEmbedContents"), headers=headers, json={
        "requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": t}]}} for t in ("a", "b")]
    }).json()

    assert resp["candidates"][0]["content"]["parts"] == [{"functionCall": {"name": "get_weather",
                                                                            "args": {"text": QUESTION}}}]
    assert embeds == {"embeddings": [{"values": embedding("a")}, {"values": embedding("b")}]}


def test_it_rejects_gemini_requests_without_a_valid_key(fake_gemini):
    missing = httpx.post(gemini_url(fake_gemini), json=GEMINI_BODY)
    wrong = httpx.post(gemini_url(fake_gemini), json=GEMINI_BODY, params={"key": "nope"})

    assert (missing.status_code, missing.json()["error"]["status"]) == (403, "PERMISSION_DENIED")
    assert (wrong.status_code, wrong.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")
    assert wrong.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"


# ---- content rules --------------------------------------------------------
def test_it_truncates_at_max_tokens_and_counts_reasoning(fake_openai):
    resp = post_openai(fake_openai, chat_body(max_tokens=2, model="gpt-4o~reasoning:10")).json()

    assert resp["choices"][0]["message"]["content"] == "echo: hello"
    assert resp["choices"][0]["finish_reason"] == "length"
    assert resp["usage"]["completion_tokens"] == 12
    assert resp["usage"]["completion_tokens_details"]["reasoning_tokens"] == 10


# ---- scenarios and faults -------------------------------------------------
def test_it_picks_scenarios_by_header_model_suffix_queue_then_default(fake_openai):
    fake_openai.set_scenario("status:503")
    fake_openai.queue_scenarios("status:500", "ok")

    statuses = [
        post_openai(fake_openai, chat_body(), headers={"x-fake-scenario": "status:418"}).status_code,
        post_openai(fake_openai, chat_body(model="gpt-4o~status:502")).status_code,
        post_openai(fake_openai, chat_body()).status_code,
        post_openai(fake_openai, chat_body()).status_code,
        post_openai(fake_openai, chat_body()).status_code,
    ]

    assert statuses == [418, 502, 500, 200, 503]
    assert [r.scenario for r in fake_openai.requests] == ["status:418", "status:502", "status:500", "ok", "status:503"]
    assert fake_openai.attempts == 5


def test_it_rejects_unknown_scenarios_and_off_schema_requests(fake_openai):
    with pytest.raises(ValueError, match="unknown fake scenario item"):
        parse("latency:5+explode")
    resp = post_openai(fake_openai, chat_body(), headers={"x-fake-scenario": "explode"})
    assert resp.status_code == 400 and "explode" in resp.json()["error"]["message"]
    off_schema = post_openai(fake_openai, {"model": "gpt-4o", "messages": ["not a message"]})
    assert off_schema.status_code == 400 and "could not read the request" in off_schema.json()["error"]["message"]


@pytest.mark.parametrize(("kind", "path", "auth", "error_kind"), [
    ("openai", "/chat/completions", {"Authorization": "Bearer sk-1"}, "requests"),
    ("anthropic", "/v1/messages", {"x-api-key": "sk-1", "anthropic-version": "2023-06-01"}, "rate_limit_error"),
    ("gemini", "/models/g:generateContent", {"x-goog-api-key": "sk-1"}, "RESOURCE_EXHAUSTED"),
])
def test_it_sends_429_with_retry_after_in_each_envelope(kind, path, auth, error_kind):
    with start_in_thread(kind, api_key="sk-1", scenario="rate_limited:7") as fake:
        resp = httpx.post(fake.base_url + path, json={}, headers=auth)
    error = resp.json()["error"]

    assert (resp.status_code, resp.headers["retry-after"]) == (429, "7")
    assert (error.get("status") or error["type"]) == error_kind


def test_it_surfaces_status_errors_through_the_sdks(fake_openai, fake_anthropic):
    with pytest.raises(openai.RateLimitError):
        oai(fake_openai).chat.completions.create(model="gpt-4o~status:429", messages=chat_messages())
    with pytest.raises(anthropic.APIStatusError) as err:
        claude(fake_anthropic).messages.create(model="c~status:529", max_tokens=5,
                                               messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 529 and err.value.body["error"]["type"] == "overloaded_error"


def test_it_resets_the_connection_mid_body(fake_openai):
    with pytest.raises(httpx.RemoteProtocolError):
        post_openai(fake_openai, chat_body(model="gpt-4o~reset_mid_body"))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)), stream_openai(fake_openai, "reset_mid_body:300") as r:
        r.read()
    assert [r.outcome for r in fake_openai.requests] == ["reset", "reset"]
    assert fake_openai.requests[1].bytes_sent == 300


def test_it_hangs_until_the_client_times_out_and_notices_the_hang_up(fake_openai):
    with pytest.raises(httpx.ReadTimeout):
        post_openai(fake_openai, chat_body(model="gpt-4o~hang"), timeout=0.3)

    assert fake_openai.wait_for(lambda up: up.cancellations, timeout=1.0)
    assert fake_openai.requests[0].outcome == "client_disconnected"


def test_it_sends_headers_but_no_first_byte(fake_openai):
    with stream_openai(fake_openai, "no_first_byte", timeout=0.3) as resp:
        assert resp.status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            resp.read()


def test_it_delays_the_first_byte_and_paces_chunks(fake_openai):
    started = time.monotonic()
    arrivals = []
    with stream_openai(fake_openai, "latency:200+stream_pace:100") as resp:
        first_byte = time.monotonic() - started
        for _ in resp.iter_lines():
            arrivals.append(time.monotonic())

    assert first_byte >= 0.2
    assert arrivals[-1] - arrivals[0] >= 0.1 * (COMPLETION_TOKENS + 1)  # role + words + finish + [DONE] events


def test_it_sends_malformed_json_in_the_stream(fake_openai):
    with pytest.raises(json.JSONDecodeError):
        list(oai(fake_openai).chat.completions.create(model="gpt-4o~malformed_json", messages=chat_messages(),
                                                      stream=True))


def test_it_ends_streams_without_their_terminal_event(fake_openai, fake_anthropic):
    openai_raw = post_openai(fake_openai, chat_body(stream=True), headers={"x-fake-scenario": "no_done"}).text
    anthropic_raw = httpx.post(fake_anthropic.base_url + "/v1/messages", json={
        "model": "c~no_done", "max_tokens": 9, "stream": True, "messages": [{"role": "user", "content": "x"}],
    }, headers={"x-api-key": fake_anthropic.api_key, "anthropic-version": "2023-06-01"}).text

    assert "[DONE]" not in openai_raw and '"finish_reason":"stop"' in openai_raw
    assert "message_stop" not in anthropic_raw and "message_delta" in anthropic_raw


def test_it_writes_crlf_and_split_and_dripped_events(fake_openai):
    normal = post_openai(fake_openai, chat_body(stream=True)).text
    crlf = post_openai(fake_openai, chat_body(stream=True), headers={"x-fake-scenario": "crlf"}).text
    assert crlf == normal.replace("\n", "\r\n").replace("chatcmpl-fake0", "chatcmpl-fake1")

    def raw_pieces(scenario):
        with stream_openai(fake_openai, scenario) as resp:
            return list(resp.iter_raw())  # one item per HTTP chunk the server wrote

    split = raw_pieces("split_events:7")
    assert max(map(len, split)) == 7 and b"".join(split).decode() == normal.replace("fake0", "fake2")
    short = {"model": "gpt-4o~slow_drip:1", "messages": [{"role": "user", "content": "x"}]}
    dripped = post_openai(fake_openai, short)
    assert dripped.json()["choices"][0]["message"]["content"] == "echo: x"
    # The client can hold the last byte before the server thread books it: wait for the books.
    assert fake_openai.wait_for(lambda up: up.last_request.outcome == "completed")
    assert fake_openai.last_request.bytes_sent == len(dripped.content)


def test_it_sends_an_oversize_event_that_still_parses(fake_openai):
    text = post_openai(fake_openai, chat_body(stream=True), headers={"x-fake-scenario": "oversize_event:200000"}).text
    events = [json.loads(d) for d in sse_data(text)[:-1]]

    assert max(map(len, text.splitlines())) > 200000
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events) == REPLY


def test_it_fails_after_n_chunks_with_the_providers_stream_error(fake_openai, fake_anthropic):
    stream = oai(fake_openai).chat.completions.create(model="gpt-4o~fail_after_chunks:2", messages=chat_messages(),
                                                      stream=True)
    got = []
    with pytest.raises(openai.APIError, match="server had an error"):
        got.extend(stream)
    assert len(got) == 2
    with (
        pytest.raises(anthropic.APIStatusError, match="overloaded_error"),
        claude(fake_anthropic).messages.stream(model="c~fail_after_chunks:3", max_tokens=9,
                                               messages=[{"role": "user", "content": "x"}]) as events,
    ):
        events.get_final_message()


def test_it_stalls_after_n_chunks(fake_openai):
    lines = []
    with (
        pytest.raises(httpx.ReadTimeout),
        stream_openai(fake_openai, "stall_after_chunks:2", timeout=0.3) as resp,
    ):
        lines.extend(line for line in resp.iter_lines() if line)
    assert len(lines) == 2


def test_it_gives_a_closed_port_for_connect_refused():
    with pytest.raises(httpx.ConnectError):
        httpx.get(refused_url("/v1/models"))
    assert isinstance(closed_port(), int)


# ---- recording, cancellation, connections ---------------------------------
def test_it_records_a_cancellation_within_a_second_of_an_early_close(fake_openai):
    with stream_openai(fake_openai, "stream_pace:500") as resp:
        lines = resp.iter_lines()  # kept referenced: a dropped iterator would close the stream early
        next(lines)
        closed_at = time.monotonic()  # leaving the block closes the connection

    assert fake_openai.wait_for(lambda up: up.cancellations, timeout=1.0)
    cancel = fake_openai.cancellations[0]
    assert cancel.reason == "client_disconnected" and cancel.request_index == 0
    assert 0 <= cancel.at - closed_at < 1.0
    assert cancel.chunks_sent < COMPLETION_TOKENS + 3
    assert fake_openai.wait_for(lambda up: up.in_flight == 0 and up.open_connections == 0)


def test_it_records_requests_and_counts_connections(fake_openai):
    with httpx.Client(headers={"Authorization": f"Bearer {fake_openai.api_key}"}) as client:
        for _ in range(3):
            client.post(fake_openai.base_url + "/chat/completions", json=chat_body(), params={"trace": "1"})
        assert fake_openai.open_connections == 1  # keep-alive reuses one connection

    rec = fake_openai.requests[0]
    assert (rec.method, rec.path, rec.query, rec.body) == ("POST", "/v1/chat/completions", {"trace": "1"},
                                                           chat_body())
    assert rec.headers["authorization"] == f"Bearer {fake_openai.api_key}"
    assert fake_openai.wait_for(lambda up: up.requests[-1].finished_at)
    assert rec.outcome == "completed" and rec.at < rec.finished_at <= time.monotonic()
    assert fake_openai.total_connections == 1 and fake_openai.max_in_flight == 1
    unknown = httpx.delete(fake_openai.base_url + "/nope", headers={"Authorization": f"Bearer {fake_openai.api_key}"})
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "invalid_request_error"
    assert (fake_openai.last_request.method, fake_openai.last_request.path) == ("DELETE", "/v1/nope")
    fake_openai.reset()
    assert fake_openai.requests == [] and fake_openai.attempts == 0


def test_it_gives_each_test_a_fresh_fake(fake_openai, fake_anthropic, fake_gemini):
    assert fake_openai.requests == [] and fake_openai.cancellations == []
    assert len({fake_openai.base_url, fake_anthropic.base_url, fake_gemini.base_url}) == 3
    assert fake_openai.base_url.endswith("/v1") and fake_gemini.base_url.endswith("/v1beta")


async def test_it_runs_in_the_test_loop_as_an_async_context_manager():
    async with FakeUpstream("openai", api_key="sk-test") as up:
        async with httpx.AsyncClient(timeout=0.3) as client:
            ok = await client.post(up.base_url + "/chat/completions", json=chat_body(),
                                   headers={"Authorization": "Bearer sk-test"})
            with pytest.raises(httpx.ReadTimeout):
                await client.post(up.base_url + "/chat/completions", json=chat_body(model="gpt-4o~hang"),
                                  headers={"Authorization": "Bearer sk-test"})
            unauthenticated = await client.post(up.base_url + "/chat/completions", json=chat_body())
        assert await up.wait_for(lambda u: u.cancellations)

    assert ok.json()["usage"]["prompt_tokens"] == PROMPT_TOKENS
    assert unauthenticated.status_code == 401
    assert [r.outcome for r in up.requests] == ["completed", "client_disconnected", "completed"]
