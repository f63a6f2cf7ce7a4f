"""Oversized parameters against a real server, in both ingress formats (issue 14, finding 7)."""
import httpx
import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _post(gateway, api_key, path, body):
    return httpx.post(gateway.url + path, json=body, timeout=30,
                      headers={"Authorization": f"Bearer {api_key.secret}", "anthropic-version": "2023-06-01"})


def test_it_echoes_at_most_200_characters_of_an_unknown_model(gateway, api_key):
    model = "m" * 1_000_000  # the report's 1 MB name
    chat = _post(gateway, api_key, "/v1/chat/completions",
                 {"model": model, "messages": [{"role": "user", "content": "x"}]})
    messages = _post(gateway, api_key, "/anthropic/v1/messages",
                     {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})
    for response, message in ((chat, chat.json()["error"]["message"]), (messages, messages.json()["error"]["message"])):
        assert response.status_code == 404 and "m" * 200 in message and "m" * 201 not in message
        assert len(response.content) < 1000
    assert chat.json()["error"]["param"] == "model"


def test_it_echoes_at_most_200_characters_of_an_unknown_path(gateway, api_key):
    path = "/v1/" + "p" * 50_000  # a long URL is echoed in the 404 and the 405 alike
    unknown = httpx.get(gateway.url + path, timeout=30)
    wrong_method = httpx.get(gateway.url + "/v1/chat/completions/", timeout=30)
    assert unknown.status_code == 404 and len(unknown.content) < 1000, unknown.text[:300]
    assert "p" * 190 in unknown.json()["error"]["message"]
    assert wrong_method.status_code == 405


def test_it_refuses_integers_beyond_32_bits_in_both_formats(gateway, api_key):
    chat = {"model": "mock", "messages": [{"role": "user", "content": "x"}]}
    for value in (2**63, 2**31):  # 2^63 went through; 10^30 was already invalid JSON
        openai = _post(gateway, api_key, "/v1/chat/completions", chat | {"max_tokens": value})
        assert openai.status_code == 400 and openai.json()["error"]["param"] == "max_tokens", openai.text
        anthropic = _post(gateway, api_key, "/anthropic/v1/messages", chat | {"max_tokens": value})
        body = anthropic.json()
        assert anthropic.status_code == 400 and body["type"] == "error", anthropic.text
        assert body["error"]["type"] == "invalid_request_error" and body["error"]["message"].startswith("max_tokens:")
    assert _post(gateway, api_key, "/v1/chat/completions", chat | {"max_tokens": 2**31 - 1}).status_code == 200
