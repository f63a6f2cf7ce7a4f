"""Client and upstream values that reach the usage event are bounded before they can poison it (issue 14).

A request id of any length and bytes, an upstream's error code with NUL or a lone surrogate and
an upstream's token count beyond 64 bits each made the event unwritable: the ledger's insert or
the usage stream's encode (orjson) failed, for the whole batch it travelled in.
"""
from __future__ import annotations

import time
from types import MappingProxyType

import orjson
import pytest

from gateway.dataplane.canonical import Usage, usage_from_dict
from gateway.dataplane.context import RequestContext
from gateway.dataplane.ids import REQUEST_ID_MAX, request_ids
from gateway.dataplane.snapshot import EMPTY, KeyInfo
from gateway.dataplane.steps.usage import CLIENT_REQUEST_ID, build_event

KEY = KeyInfo(id=1, prefix="p", secret_hash="h", tenant_id=7, team_id=None, user_id=None, name="k", route_ids=None,
              limits=MappingProxyType({}), expires_at=None)


def _printable_ascii(text: str) -> bool:
    return all("!" <= c <= "~" for c in text)


@pytest.mark.parametrize("sent", ["abc", "r" * REQUEST_ID_MAX, "req_0123-ABC.x:y/z~!", "a\"'<>{}"])
def test_it_keeps_a_client_request_id_of_1_to_64_printable_ascii_characters(sent):
    assert request_ids(sent) == (sent, "")


@pytest.mark.parametrize(("sent", "kept"), [
    ("r" * (REQUEST_ID_MAX + 1), "r" * 64), ("r" * 100, "r" * 64), ("r" * 1_000_000, "r" * 64),
    ("nul\x00byte", "nul\\x00byte"), ("caf\xc3\xa9", "caf\\xc3\\xa9"), ("tab\there", "tab\\x09here"),
    ("a space", "a\\x20space"), ("del\x7f", "del\\x7f"), (" ", "\\x20"), ("\ud800", "\\xd800"),
    ("\x00" * 100, "\\x00" * 16),
])
def test_it_replaces_any_other_request_id_and_keeps_the_clients_escaped_and_bounded(sent, kept):
    request_id, client = request_ids(sent)
    assert len(request_id) == 32 and int(request_id, 16) >= 0  # generated
    assert client == kept and len(client) <= REQUEST_ID_MAX and _printable_ascii(client)


def test_it_generates_a_request_id_when_none_or_an_empty_one_is_sent():
    for sent in (None, ""):
        request_id, client = request_ids(sent)
        assert len(request_id) == 32 and client == ""


def _ctx(**state):
    ctx = RequestContext(scope={}, send=None, request_id=uuid_hex(), ingress="openai", endpoint="chat",
                         method="POST", headers={}, raw_body=b"", snapshot=EMPTY, started_wall=time.time(),
                         started=time.perf_counter(), state=dict(state))
    ctx.key = KEY
    return ctx


def uuid_hex():
    return request_ids(None)[0]


def test_it_builds_an_encodable_bounded_event_from_poisoned_upstream_values():
    code = "quota\x00\ud800" + "x" * 1_000_000  # an upstream's error "code", as Python's json reads it
    ctx = _ctx(attempt_log=[{"route": "r", "provider": "p", "model": "m", "status": 502, "error": code, "ms": 1.0}],
               **{CLIENT_REQUEST_ID: "c" * 64})
    ctx.status, ctx.error_code = 502, code
    ctx.usage = Usage(input_tokens=10**30, output_tokens=2**64, cached_tokens=5)
    event = build_event(ctx)
    decoded = orjson.loads(orjson.dumps(event))  # the stream's encoder refused it before
    assert len(decoded["error_code"]) == 64 and "\x00" not in decoded["error_code"]
    assert len(decoded["attempt_log"][0]["error"]) == 200
    assert (decoded["input_tokens"], decoded["output_tokens"], decoded["cached_tokens"]) == (2**31 - 1, 2**31 - 1, 5)
    assert decoded["client_request_id"] == "c" * 64


def test_it_drops_a_provider_cost_beyond_the_ledgers_column():
    assert usage_from_dict({"prompt_tokens": 1, "cost": 1e300}).provider_cost is None
    assert usage_from_dict({"prompt_tokens": 1, "cost": 0.25}).provider_cost == "0.25"
