"""The call step hands a passed-through answer to the cache: parsed once for both its usage and the entry."""
from __future__ import annotations

import time
from types import SimpleNamespace

import orjson
import pytest

from gateway.dataplane.adapters import get_adapter
from gateway.dataplane.cache.capture import Capture
from gateway.dataplane.canonical import Usage, completion, dumps
from gateway.dataplane.context import RequestContext
from gateway.dataplane.snapshot import EMPTY
from gateway.dataplane.steps import call

ANSWER = completion("chatcmpl-1", "gpt-4o-mini", {"role": "assistant", "content": "hi"}, "stop", Usage(7, 2), created=1)
CLAUDE = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-latest",
          "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
          "usage": {"input_tokens": 7, "output_tokens": 2}}


def context(ingress, capture):
    sent = []

    async def send(message):
        sent.append(message)

    ctx = RequestContext(scope={}, send=send, request_id="r1", ingress=ingress, endpoint="chat", method="POST",
                         headers={}, raw_body=b"{}", snapshot=EMPTY, started_wall=time.time(),
                         started=time.perf_counter(), route=None, key=SimpleNamespace(tenant_id=1),
                         canonical={"model": "m", "messages": [{"role": "user", "content": "hello"}]})
    if capture is not None:
        ctx.state["capture"] = capture
    return ctx, sent


@pytest.fixture
def upstream(monkeypatch):
    """The upstream's answer bytes, and every time orjson parsed exactly those bytes."""
    seen = SimpleNamespace(body=b"", parses=0)

    async def opened(ctx, adapter, stream):
        return SimpleNamespace(status=200)

    async def read(resp, limit):
        return seen.body

    real = orjson.loads

    def counting(data):
        seen.parses += data == seen.body
        return real(data)

    monkeypatch.setattr(call, "_open", opened)
    monkeypatch.setattr(call, "read_body", read)
    monkeypatch.setattr(orjson, "loads", counting)
    return seen


@pytest.mark.parametrize(("ingress", "answer"), [("openai", ANSWER), ("anthropic", CLAUDE)])
async def test_a_cached_pass_through_answer_is_parsed_once(upstream, ingress, answer):
    upstream.body = dumps(answer)
    capture = Capture()
    ctx, sent = context(ingress, capture)
    await call._unary(ctx, get_adapter(ingress))
    assert upstream.parses == 1  # the usage and the cache entry from one parse
    assert (ctx.usage.input_tokens, ctx.usage.output_tokens) == (7, 2)
    cached = capture.result(None)
    assert cached["choices"][0]["message"]["content"] == "hi" and cached["usage"]["prompt_tokens"] == 7
    assert sent[-1]["body"] == upstream.body  # the client still gets the upstream's own bytes


async def test_without_a_cache_nothing_more_is_parsed_and_a_malformed_answer_has_no_usage(upstream):
    upstream.body = b"not json"
    ctx, sent = context("openai", None)
    await call._unary(ctx, get_adapter("openai"))
    assert ctx.usage is None and sent[-1]["body"] == b"not json"
    capture = Capture()
    ctx, _sent = context("openai", capture)
    await call._unary(ctx, get_adapter("openai"))
    assert ctx.usage is None and capture.result(None) is None
