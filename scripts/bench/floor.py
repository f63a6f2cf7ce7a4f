"""The floor for a Python gateway (../shared/bench/README.md): a bare uvicorn + aiohttp proxy, no auth,
no routing, no accounting. scripts/bench.sh runs it on the SUT cpu beside Switchyard, so figures can
be read as a ratio to what Python itself costs on this machine today.

    FLOOR_UPSTREAM=http://127.0.0.1:18001 uvicorn scripts.bench.floor:app --port 8001 --loop uvloop --http httptools
"""
import os

import aiohttp

UPSTREAM = os.environ.get("FLOOR_UPSTREAM", "http://127.0.0.1:18001")
_session = None


async def app(scope, receive, send):
    global _session
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    if _session is None:
        _session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    async with _session.post(UPSTREAM + scope["path"], data=body, headers={"content-type": "application/json"}) as r:
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": r.status, "headers": headers})
        async for chunk in r.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
