"""Routes with several targets, a chat helper and a context-window upstream for the resilience tests."""
from __future__ import annotations

import httpx

from billing.models import UsageRecord
from billing.usage_stream import drain
from gateway.models import Provider, Route
from gateway.services.routes import route_save
from tests.fakes import DEFAULT_KEYS
from tests.fakes.openai_wire import OpenAIWire
from tests.fakes.server import FakeUpstream
from tests.fakes.threaded import ThreadedUpstream
from tests.servers import wait_until

FAST_RETRY = {"backoff_ms": 10, "max_backoff_ms": 200}


def provider(name, kind, base_url, tenant=None, **options):
    return Provider.objects.create(name=name, kind=kind, base_url=base_url, api_key=DEFAULT_KEYS.get(kind, ""),
                                   tenant=tenant, options=options)


def multi_route(name, targets, fallbacks=None, **fields):
    """targets: [(provider, model, weight)]; a shared route unless tenant= is given."""
    fields.setdefault("retry", FAST_RETRY)
    return route_save(Route(name=name, **fields), targets=targets, fallbacks=fallbacks)


def chat(server, key, model, stream=False, timeout=10.0, text="hello there"):
    body = {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}
    return httpx.post(server.url + "/v1/chat/completions", json=body, timeout=timeout,
                      headers={"Authorization": f"Bearer {key.secret}"})


def served_by(response) -> tuple[str, str]:
    return response.headers.get("x-switchyard-route"), response.headers.get("x-switchyard-provider")


def models_sent(fake) -> list[str]:
    return [r.body.get("model") for r in fake.requests if isinstance(r.body, dict)]


def ledger_rows(redis_client, expected, timeout=10.0):
    def enough():
        drain(redis_client)
        return UsageRecord.objects.count() >= expected

    assert wait_until(enough, timeout=timeout, interval=0.2)
    return list(UsageRecord.objects.order_by("created_at"))


class ContextWindowWire(OpenAIWire):
    """OpenAI's answer to a prompt over the model's window, for any `status:400` scenario."""

    def error(self, status, message, code=None, param=None):
        if status != 400:
            return super().error(status, message, code, param)
        return super().error(400, "This model's maximum context length is 8192 tokens. However, your messages "
                                  "resulted in 9000 tokens.", code="context_length_exceeded", param="messages")


def context_window_upstream() -> ThreadedUpstream:
    upstream = FakeUpstream("openai")
    upstream.wire = ContextWindowWire()
    return ThreadedUpstream(upstream)
