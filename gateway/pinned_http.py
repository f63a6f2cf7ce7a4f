"""One control-plane HTTP call over a connection pinned to an address already checked against the
SSRF rules (gateway/dataplane/netguard.py): the name is never resolved again, so DNS rebinding
between the check and the connect cannot reach a private address. The Host header and TLS SNI
keep the name, so TLS still verifies the name, not the address.

Through httpx's transport, not a Client: a Client reads proxy variables (which would send the
request elsewhere than the checked address) and logs every URL at INFO (webhook URLs hold
tokens). A transport never follows redirects.
"""
from __future__ import annotations

import httpx


def pinned_send(method: str, url: httpx.URL, address: str, headers: dict[str, str], timeout: httpx.Timeout,
                content: bytes | None = None, read: bool = True) -> httpx.Response:
    """Send and close; `read=False` leaves the body unread (a receiver that only acknowledges)."""
    extensions = {"timeout": timeout.as_dict()}
    if url.host != address:
        extensions["sni_hostname"] = url.host
    request = httpx.Request(method, url.copy_with(host=address), content=content, extensions=extensions,
                            headers={**headers, "host": url.netloc.decode("ascii")})
    with httpx.HTTPTransport(retries=0) as transport:
        response = transport.handle_request(request)
        try:
            if read:
                response.read()
        finally:
            response.close()
    return response
