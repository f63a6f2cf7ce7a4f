"""The "test connection" button: GET the provider's models endpoint, show OK or a scrubbed error.

Runs in the control plane with httpx (DESIGN.md: httpx stays for control-plane calls). The
host is resolved once and checked against the SSRF rules; the connection then goes to that
checked address (pinned: the Host header and TLS SNI/verification keep the name), so a name
that resolves differently a moment later (DNS rebinding) cannot move the request to a private
address. Redirects are not followed, so a 302 to a private address is never taken.
"""
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from gateway.dataplane.errors import scrub
from gateway.dataplane.netguard import BlockedAddress, Unresolvable, parse_cidrs, resolve_checked
from gateway.models import ProviderKind
from gateway.pinned_http import pinned_send

# Long enough for a distant provider, short enough that a page request never hangs.
TIMEOUT_SECONDS = 5.0
ANTHROPIC_VERSION = "2023-06-01"
SHOWN_BODY_CHARS = 300  # of an error answer: enough to read the provider's message


def check(provider):
    """(ok, message). The message never contains the provider's key."""
    if provider.kind == ProviderKind.MOCK:
        return True, "the built-in mock provider is always reachable"
    url = httpx.URL(provider.effective_base_url.rstrip("/") + "/models")
    if not url.host:
        return False, "the provider has no base URL"
    try:
        address = resolve_checked(url.host, settings.SSRF_ALLOW_PRIVATE, parse_cidrs(settings.SSRF_ALLOW_CIDRS))[0]
        response = pinned_send("GET", url, address, _auth_headers(provider), httpx.Timeout(TIMEOUT_SECONDS))
    except (BlockedAddress, Unresolvable) as exc:
        return False, str(exc)
    except httpx.HTTPError as exc:
        return False, scrub(f"{type(exc).__name__}: {exc}", [provider.api_key])
    if response.status_code == 200:
        return True, f"HTTP 200 from {urlsplit(str(url)).hostname}"
    return False, scrub(f"HTTP {response.status_code}: {response.text[:SHOWN_BODY_CHARS]}", [provider.api_key])


def _auth_headers(provider):
    headers = dict(provider.headers or {})
    if not provider.api_key:
        return headers
    if provider.kind == ProviderKind.ANTHROPIC:
        headers.update({"x-api-key": provider.api_key, "anthropic-version": ANTHROPIC_VERSION})
    elif provider.kind == ProviderKind.GEMINI:
        headers["x-goog-api-key"] = provider.api_key
    elif provider.kind == ProviderKind.AZURE_OPENAI:
        headers["api-key"] = provider.api_key
    else:
        headers["Authorization"] = f"Bearer {provider.api_key}"
    return headers
