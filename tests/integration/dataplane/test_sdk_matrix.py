"""The official SDKs against Switchyard, over every upstream wire format (issue 3)."""
import anthropic
import httpx
import openai
import pytest

from tests.integration.dataplane.conftest import add_route

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
UPSTREAMS = ["gpt", "claude", "gemini", "mock"]
QUESTION = "hello gateway world"


def oai(gateway, key, **kw):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key.secret, max_retries=0, **kw)


def ant(gateway, key):
    return anthropic.Anthropic(base_url=gateway.url + "/anthropic", api_key=key.secret, max_retries=0)


def expected_reply(route):
    return "mock reply to: " + QUESTION if route == "mock" else "echo: " + QUESTION


@pytest.mark.parametrize("route", UPSTREAMS)
def test_it_serves_openai_chat_from_every_upstream(gateway, api_key, route):
    client = oai(gateway, api_key)
    raw = client.chat.completions.with_raw_response.create(
        model=route, messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": QUESTION}]
    )
    answer = raw.parse()
    assert answer.choices[0].message.content == expected_reply(route)
    assert answer.usage.completion_tokens > 0 and answer.usage.prompt_tokens > 0
    assert raw.headers["x-switchyard-route"] == route and raw.headers["x-request-id"]
    assert raw.headers["x-switchyard-provider"]


@pytest.mark.parametrize("route", UPSTREAMS)
def test_it_streams_openai_chunks_from_every_upstream(gateway, api_key, route):
    stream = oai(gateway, api_key).chat.completions.create(
        model=route, messages=[{"role": "user", "content": QUESTION}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected_reply(route)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


@pytest.mark.parametrize("route", ["gpt", "claude"])
def test_it_omits_the_usage_chunk_unless_asked(gateway, api_key, route):
    chunks = list(oai(gateway, api_key).chat.completions.create(
        model=route, messages=[{"role": "user", "content": QUESTION}], stream=True))
    assert all(c.usage is None for c in chunks) and all(c.choices for c in chunks)


TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "look up",
                                           "parameters": {"type": "object", "properties": {"text": {"type": "string"}}}}}]


@pytest.mark.parametrize("route", ["gpt", "claude", "gemini"])
def test_it_returns_tool_calls_from_every_upstream(gateway, api_key, route):
    answer = oai(gateway, api_key).chat.completions.create(
        model=route, messages=[{"role": "user", "content": QUESTION}], tools=TOOLS, tool_choice="auto")
    call = answer.choices[0].message.tool_calls[0]
    assert call.function.name == "lookup" and answer.choices[0].finish_reason == "tool_calls"
    assert '"text"' in call.function.arguments


@pytest.mark.parametrize("route", ["gpt", "claude", "gemini"])
def test_it_streams_tool_calls_from_every_upstream(gateway, api_key, route):
    stream = oai(gateway, api_key).chat.completions.create(
        model=route, messages=[{"role": "user", "content": QUESTION}], tools=TOOLS, stream=True)
    calls = [tc for c in stream if c.choices for tc in (c.choices[0].delta.tool_calls or ())]
    assert any(tc.function and tc.function.name == "lookup" for tc in calls)


@pytest.mark.parametrize("route", ["gpt", "mock"])
def test_it_embeds(gateway, api_key, route):
    result = oai(gateway, api_key).embeddings.create(model=route, input=["one two", "three"])
    assert len(result.data) == 2 and len(result.data[0].embedding) > 0


def test_it_lists_only_the_models_a_key_may_use(gateway, api_key, routes):
    client = oai(gateway, api_key)
    assert sorted(m.id for m in client.models.list()) == sorted(UPSTREAMS)
    assert client.models.retrieve("gpt").id == "gpt"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")


@pytest.mark.parametrize("route", UPSTREAMS)
def test_it_serves_anthropic_messages_from_every_upstream(gateway, api_key, route):
    message = ant(gateway, api_key).messages.create(
        model=route, max_tokens=100, system="be brief", messages=[{"role": "user", "content": QUESTION}])
    assert message.content[0].text == expected_reply(route)
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0


@pytest.mark.parametrize("route", UPSTREAMS)
def test_it_streams_anthropic_events_from_every_upstream(gateway, api_key, route):
    with ant(gateway, api_key).messages.stream(
        model=route, max_tokens=100, messages=[{"role": "user", "content": QUESTION}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == expected_reply(route) and final.usage.output_tokens > 0


@pytest.mark.parametrize("route", ["claude", "gpt"])
def test_it_returns_anthropic_tool_use(gateway, api_key, route):
    tools = [{"name": "lookup", "description": "look up", "input_schema": TOOLS[0]["function"]["parameters"]}]
    message = ant(gateway, api_key).messages.create(
        model=route, max_tokens=100, tools=tools, messages=[{"role": "user", "content": QUESTION}])
    assert message.stop_reason == "tool_use"
    assert [b.name for b in message.content if b.type == "tool_use"] == ["lookup"]


def test_it_raises_the_sdks_auth_errors(gateway, api_key):
    api_key.secret = "sy-" + "x" * 43
    with pytest.raises(openai.AuthenticationError):
        oai(gateway, api_key).chat.completions.create(model="gpt", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.AuthenticationError):
        ant(gateway, api_key).messages.create(model="gpt", max_tokens=5, messages=[{"role": "user", "content": "x"}])


def test_it_raises_permission_denied_for_a_route_outside_the_allow_list(gateway, api_key, routes):
    api_key.routes.set([routes["mock"]])
    client = oai(gateway, api_key)
    ok = _eventually(lambda: _status(gateway, api_key, "gpt") == 403)
    assert ok
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "x"}])


def test_it_raises_not_found_and_bad_request(gateway, api_key):
    client = oai(gateway, api_key)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt", messages="not a list")
    assert info.value.body["param"] == "messages"
    with pytest.raises(anthropic.BadRequestError):
        ant(gateway, api_key).messages.create(model="gpt", max_tokens=0, messages=[{"role": "user", "content": "x"}])


def test_it_refuses_a_body_over_the_limit_before_reading_it(gateway, api_key):
    response = httpx.post(gateway.url + "/v1/chat/completions", content=b"x" * (11 * 1024 * 1024),
                          headers={"Authorization": f"Bearer {api_key.secret}", "content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize("scenario,error", [
    ("rate_limited:7", openai.RateLimitError),
    ("status:500", openai.InternalServerError),
    ("status:400", openai.BadRequestError),
])
def test_it_maps_upstream_errors_to_the_sdk_classes(gateway, api_key, fake_openai, scenario, error):
    add_route("faulty", "openai", fake_openai.base_url, f"gpt-4o-mini~{scenario}")
    client = oai(gateway, api_key)
    assert _eventually(lambda: _status(gateway, api_key, "faulty") != 404)
    with pytest.raises(error) as info:
        client.chat.completions.create(model="faulty", messages=[{"role": "user", "content": "x"}])
    if error is openai.RateLimitError:
        assert info.value.response.headers["retry-after"] == "7"
    assert "sk-fake" not in str(info.value.body)


def test_it_answers_504_on_an_upstream_timeout_and_502_on_a_refused_connection(gateway, api_key, fake_openai):
    slow = add_route("slow", "openai", fake_openai.base_url, "gpt-4o-mini~hang", timeouts={"first_byte": 0.5})
    add_route("dead", "openai", "http://127.0.0.1:9/v1", "gpt-4o-mini")
    assert slow and _eventually(lambda: _status(gateway, api_key, "dead") != 404)
    assert _status(gateway, api_key, "slow") == 504
    assert _status(gateway, api_key, "dead") == 502
    with pytest.raises(openai.APITimeoutError):
        oai(gateway, api_key, timeout=0.3).chat.completions.create(
            model="slow", messages=[{"role": "user", "content": "x"}])


def _status(gateway, key, model):
    response = httpx.post(gateway.url + "/v1/chat/completions", timeout=10,
                          json={"model": model, "messages": [{"role": "user", "content": "x"}]},
                          headers={"Authorization": f"Bearer {key.secret}"})
    return response.status_code


def _eventually(check, timeout=5.0):
    from tests.servers import wait_until

    return wait_until(check, timeout=timeout, interval=0.2)
