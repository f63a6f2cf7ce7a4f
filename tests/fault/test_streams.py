"""Streams and faults: before the first byte a retry is invisible; after it, an error event ends the stream."""
import json

import pytest

from tests.integration.dataplane.resilience_helpers import chat, models_sent, multi_route, provider, served_by
from tests.servers import GatewayServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def events(response) -> list:
    data = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    return [d if d == "[DONE]" else json.loads(d) for d in data]


def text_of(chunks) -> str:
    return "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks
                   if isinstance(c, dict) and c.get("choices"))


# Paced, so each event comes in its own read: a translating parser that meets the error event
# drops the chunks it decoded from the same read.
@pytest.mark.parametrize("kind, model", [
    ("anthropic", "claude-3-5-haiku-latest~stream_pace:20+fail_after_chunks:6"),  # translated: the gateway's event
    ("openai", "gpt-4o-mini~stream_pace:20+fail_after_chunks:3"),  # pass-through: OpenAI's own error event
])
def test_it_ends_a_stream_broken_midway_with_an_error_event_and_no_splice(
        redis_client, api_key, fake_openai, fake_anthropic, kind, model):
    fake = fake_anthropic if kind == "anthropic" else fake_openai
    first, second = (provider(f"{kind}-{i}", kind, fake.base_url) for i in (1, 2))
    spare = multi_route("spare", [(provider("spare", "openai", fake_openai.base_url), "gpt-4o-mini", 1)])
    multi_route("fragile", [(first, model, 1), (second, model, 1)], fallbacks=[spare])
    with GatewayServer() as server:
        response = chat(server, api_key, "fragile", stream=True, text="one two three four five six seven")
    got = events(response)
    assert response.status_code == 200
    assert "error" in got[-1] and "[DONE]" not in got
    assert text_of(got) and "echo: one two three four five six seven".startswith(text_of(got))
    assert fake.attempts == 1 and "gpt-4o-mini" not in models_sent(fake_openai)  # no retry, no fallback


def test_it_retries_a_stream_that_stalled_before_its_first_byte(redis_client, api_key, fake_openai):
    stalled, fine = provider("stalled", "openai", fake_openai.base_url), provider("fine", "openai",
                                                                                  fake_openai.base_url)
    multi_route("hesitant", [(stalled, "gpt-4o-mini~stall_after_chunks:0", 1), (fine, "gpt-4o-mini", 1)],
                strategy="round_robin", timeouts={"idle": 0.3})
    with GatewayServer() as server:
        response = chat(server, api_key, "hesitant", stream=True)
    got = events(response)
    assert served_by(response) == ("hesitant", "fine")
    assert text_of(got) == "echo: hello there" and got[-1] == "[DONE]"  # one clean stream
    assert models_sent(fake_openai) == ["gpt-4o-mini~stall_after_chunks:0", "gpt-4o-mini"]


def test_it_ends_a_stream_that_outlives_the_total_timeout(redis_client, api_key, fake_openai):
    slow = provider("slow", "openai", fake_openai.base_url)
    multi_route("dawdle", [(slow, "gpt-4o-mini~stream_pace:200", 1)], timeouts={"total": 0.7})
    with GatewayServer() as server:
        response = chat(server, api_key, "dawdle", stream=True, text="a b c d e f g h i j k l m n o p")
    got = events(response)
    assert response.status_code == 200 and got[-1]["error"]["code"] == "upstream_timeout"
    assert "[DONE]" not in got and fake_openai.attempts == 1
