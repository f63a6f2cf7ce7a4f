import json
import time
from email.utils import formatdate

import pytest

from gateway.dataplane.adapters import ADAPTERS
from gateway.dataplane.adapters.base import error_details, parse_retry_after

KEY = "sk-live-0123456789abcdefABCDEF"


@pytest.mark.parametrize(("status", "retryable", "permanent"), [
    (400, False, True), (401, False, True), (403, False, True), (404, False, True), (413, False, True),
    (422, False, True), (408, True, False), (409, True, False), (429, True, False), (500, True, False),
    (502, True, False), (503, True, False), (504, True, False), (529, True, False), (402, False, False),
])
@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_it_classifies_retryable_and_permanent_statuses(kind, status, retryable, permanent):
    err = ADAPTERS[kind].classify_error(status, b'{"error": {"message": "x"}}', {})
    assert (err.status, err.retryable, err.permanent) == (status, retryable, permanent)


def test_it_treats_insufficient_quota_as_not_retryable():
    body = json.dumps({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                                 "code": "insufficient_quota"}}).encode()
    err = ADAPTERS["openai"].classify_error(429, body, {})
    assert not err.retryable and err.code == "insufficient_quota"


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after": "7"}, 7.0),
    ({"Retry-After": "1.5"}, 1.5),
    ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
    ([(b"retry-after", b"3")], 3.0),
    ({"retry-after": "-5"}, 0.0),
    ({"retry-after": "nan"}, None),
    ({"retry-after": "soon"}, None),
    ({}, None),
    (None, None),
])
def test_it_parses_retry_after_seconds_and_milliseconds(headers, expected):
    assert parse_retry_after(headers) == expected


def test_it_parses_retry_after_http_dates():
    later = formatdate(time.time() + 30, usegmt=True)
    assert 25 <= parse_retry_after({"retry-after": later}) <= 31
    assert parse_retry_after({"retry-after": formatdate(0, usegmt=True)}) == 0.0


def test_it_puts_retry_after_on_the_provider_error():
    err = ADAPTERS["anthropic"].classify_error(429, b"{}", {"retry-after": "12"})
    assert err.retry_after == 12.0 and err.retryable


@pytest.mark.parametrize(("body", "message", "code"), [
    (b'{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}',
     "Rate limit reached", "rate_limit_exceeded"),
    (b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', "Overloaded", "overloaded_error"),
    (b'{"error":{"code":400,"message":"Invalid JSON payload","status":"INVALID_ARGUMENT"}}',
     "Invalid JSON payload", "INVALID_ARGUMENT"),
    (b'[{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}]',
     "Quota exceeded", "RESOURCE_EXHAUSTED"),
    (b'{"error":"model \\"llama9\\" not found"}', 'model "llama9" not found', None),
    (b'{"object":"error","message":"Extra inputs are not permitted","type":"invalid_request_error"}',
     "Extra inputs are not permitted", "invalid_request_error"),
    (b'{"detail":[{"loc":["body","messages"],"msg":"field required"}]}', '[{"loc": ["body", "messages"]', None),
    (b"upstream connect error", "upstream connect error", None),
    (b"<html><body>502 Bad Gateway</body></html>", "", None),
    (b"", "", None),
])
def test_it_takes_the_message_from_each_provider_error_shape(body, message, code):
    got_message, got_code, _ = error_details(body)
    assert got_message.startswith(message) and got_code == code


def test_it_falls_back_to_a_generic_message():
    assert ADAPTERS["openai"].classify_error(502, b"<html>oops</html>", {}).message == "upstream returned HTTP 502"


def test_it_caps_long_messages():
    body = json.dumps({"error": {"message": "x" * 5000}}).encode()
    assert len(ADAPTERS["openai"].classify_error(400, body, {}).message) == 500


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini", "groq", "azure_openai"])
def test_it_never_leaks_the_api_key_in_classified_messages(kind):
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}. Request to "
                                            "https://example.test/v1beta/models/m:generateContent?key=AIzaSyAbc"
                                            "defghijklmnopqrstuvw&alt=sse failed; bare key 9f8e7d6c5b4a39281706"}})
    err = ADAPTERS[kind].classify_error(401, body.encode(), {}, secrets=["9f8e7d6c5b4a39281706"])
    for secret in (KEY, "AIzaSyAbc", "9f8e7d6c5b4a39281706"):
        assert secret not in err.message
    assert "key=[REDACTED]" in err.message


def test_it_reads_gemini_retry_delay_when_no_header():
    body = json.dumps({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED",
                                 "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                              "retryDelay": "38s"}]}}).encode()
    err = ADAPTERS["gemini"].classify_error(429, body, {})
    assert err.retry_after == 38.0 and err.retryable and err.code == "RESOURCE_EXHAUSTED"
    assert ADAPTERS["gemini"].classify_error(429, body, {"retry-after": "2"}).retry_after == 2.0
