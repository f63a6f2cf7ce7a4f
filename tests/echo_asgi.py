"""An ASGI app that answers with the client address and scheme uvicorn put in its scope, to test
the server flags (gateway.http_protocol.UVICORN_FLAGS) apart from the gateway."""
import json


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = json.dumps({"client": scope["client"][0], "scheme": scope["scheme"]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
