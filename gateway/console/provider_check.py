"""The "test connection" button: GET the provider's models endpoint, show OK or a scrubbed error.

Runs in the control plane with httpx (DESIGN.md: httpx stays for control-plane calls). The
address is resolved and checked against the SSRF rules before connecting; redirects are not
followed, so a 302 to a private address is never taken.
"""
import socket
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from gateway.dataplane.errors import scrub
from gateway.dataplane.netguard import is_forbidden, parse_cidrs
from gateway.models import ProviderKind

# Long enough for a distant provider, short enough that a page request never hangs.
TIMEOUT_SECONDS = 5.0
ANTHROPIC_VERSION = "2023-06-01"


def check(provider):
    """(ok, message). The message never contains the provider's key."""
    if provider.kind == ProviderKind.MOCK:
        return True, "the built-in mock provider is always reachable"
    url = provider.effective_base_url.rstrip("/") + "/models"
    problem = _forbidden(url)
    if problem:
        return False, problem
    try:
        response = httpx.get(url, headers=_auth_headers(provider), timeout=TIMEOUT_SECONDS, follow_redirects=False)
    except httpx.HTTPError as exc:
        return False, scrub(f"{type(exc).__name__}: {exc}", [provider.api_key])
    if response.status_code == 200:
        return True, f"HTTP 200 from {urlsplit(url).hostname}"
    return False, scrub(f"HTTP {response.status_code}: {response.text[:300]}", [provider.api_key])


def _forbidden(url):
    host = urlsplit(url).hostname
    if not host:
        return "the provider has no base URL"
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return f"cannot resolve {host}"
    cidrs = parse_cidrs(settings.SSRF_ALLOW_CIDRS)
    if any(is_forbidden(info[4][0], settings.SSRF_ALLOW_PRIVATE, cidrs) for info in infos):
        return f"{host} resolves to a private or reserved address (SSRF_ALLOW_PRIVATE is off)"
    return None


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
