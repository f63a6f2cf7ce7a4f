"""What browsers and probing clients need from the data plane (issue 14, the first hour):
`HEAD` on the base URLs (Claude Code probes them; they were 404s) and CORS for an allowed
origin, on preflights, streams and errors alike, off unless CORS_ALLOWED_ORIGINS is set."""
import json

import httpx
import pytest

from tests.integration.dataplane.conftest import add_route
from tests.servers import GatewayServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ALLOWED = "http://localhost:5173"  # a browser app's dev-server origin
OTHER = "http://127.0.0.1:9999"
CHAT = "/v1/chat/completions"
STREAM_BODY = {"model": "mock", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def mock_route(redis_client, tenant):
    return add_route("mock", "mock", "", "mock-1")


def preflight(url, origin):
    return httpx.options(url + CHAT, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os, x-evil",
    })


def stream(url, origin, key):
    headers = {"Origin": origin, "Authorization": f"Bearer {key}"}
    with httpx.stream("POST", url + CHAT, json=STREAM_BODY, headers=headers, timeout=10) as response:
        text = response.read().decode()
    return response, text


def test_it_answers_head_and_get_on_the_data_plane_roots():
    with GatewayServer() as server:
        roots = ("/anthropic", "/anthropic/", "/v1", "/v1/")
        heads = {path: httpx.head(server.url + path).status_code for path in roots}
        got = httpx.get(server.url + "/v1/")
    assert heads == {"/anthropic": 200, "/anthropic/": 200, "/v1": 200, "/v1/": 200}
    assert got.status_code == 200 and got.json() == {"status": "ok"}


def test_it_sends_cors_headers_to_an_allowed_origin_only(mock_route, api_key):
    with GatewayServer(CORS_ALLOWED_ORIGINS=ALLOWED) as server:
        ok, refused = preflight(server.url, ALLOWED), preflight(server.url, OTHER)
        streamed, text = stream(server.url, ALLOWED, api_key.secret)
        other_stream, _ = stream(server.url, OTHER, api_key.secret)
        error = httpx.post(server.url + CHAT, json=STREAM_BODY, headers={"Origin": ALLOWED})  # no key: 401
        other_error = httpx.post(server.url + CHAT, json=STREAM_BODY, headers={"Origin": OTHER})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == ALLOWED
    assert ok.headers["access-control-allow-methods"] == "GET, POST, HEAD, OPTIONS"
    allowed_headers = ok.headers["access-control-allow-headers"].split(", ")
    assert {"authorization", "x-api-key", "anthropic-version", "anthropic-beta", "content-type",
            "x-request-id", "x-stainless-os"} <= set(allowed_headers) and "x-evil" not in allowed_headers
    assert int(ok.headers["access-control-max-age"]) > 0
    assert "access-control-allow-origin" not in refused.headers
    assert streamed.status_code == 200 and json.loads(text.split("data: ", 2)[1].split("\n")[0])["object"]
    assert streamed.headers["access-control-allow-origin"] == ALLOWED
    exposed = streamed.headers["access-control-expose-headers"].split(", ")
    assert {"x-request-id", "x-switchyard-route", "x-switchyard-provider"} <= set(exposed)
    assert error.status_code == 401 and error.headers["access-control-allow-origin"] == ALLOWED
    assert "x-request-id" in error.headers["access-control-expose-headers"]
    for answer in (other_stream, other_error):
        assert "access-control-allow-origin" not in answer.headers and answer.headers["vary"] == "origin"


def test_it_answers_no_cors_by_default():
    with GatewayServer() as server:
        refused = preflight(server.url, ALLOWED)
        error = httpx.post(server.url + CHAT, json=STREAM_BODY, headers={"Origin": ALLOWED})
    assert refused.status_code == 405 and "access-control-allow-origin" not in refused.headers
    assert error.status_code == 401 and "access-control-allow-origin" not in error.headers
    assert "vary" not in error.headers
