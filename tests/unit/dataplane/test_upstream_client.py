"""The process's one upstream client (dataplane/http.py) against a tiny aiohttp server on 127.0.0.1."""
from __future__ import annotations

import pytest
from aiohttp import web

from gateway.dataplane.canonical import Timeouts, UpstreamRequest
from gateway.dataplane.errors import ProviderError
from gateway.dataplane.http import UpstreamClient, read_body


@pytest.fixture
async def cookie_server():
    """Answers every request with a Set-Cookie and records the Cookie header it was sent."""
    seen: list[str | None] = []

    async def handler(request):
        seen.append(request.headers.get("Cookie"))
        response = web.json_response({"ok": True})
        response.set_cookie("session", "tenant-a-secret")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield port, seen
    await runner.cleanup()


async def _post(client, url):
    req = UpstreamRequest("POST", url, {"content-type": "application/json"}, b"{}")
    resp = await client.open(req, Timeouts(connect=2, first_byte=5, idle=5))
    return await read_body(resp, 1 << 20)


async def test_an_upstream_cookie_never_rides_along_on_the_next_request(cookie_server):
    port, seen = cookie_server
    url = f"http://localhost:{port}/v1/chat/completions"  # a host name: cookie jars ignore IP hosts
    client = UpstreamClient(allow_private=True)
    try:
        await _post(client, url)  # tenant A's call: the upstream sets a cookie
        await _post(client, url)  # tenant B's call through the same pooled session
    finally:
        await client.close()
    assert seen == [None, None]


async def test_a_refused_literal_address_stays_refused_on_every_call(cookie_server):
    port, seen = cookie_server
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    client = UpstreamClient(allow_private=False)
    try:
        for _ in range(2):  # the memo of checked URLs must not remember a refusal as a pass
            with pytest.raises(ProviderError) as refused:
                await _post(client, url)
            assert refused.value.code == "upstream_blocked"
    finally:
        await client.close()
    assert seen == []
