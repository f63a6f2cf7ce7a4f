import json

import anthropic
import httpx2
import openai
import pytest

from gateway.dataplane.errors import (
    GatewayError,
    ProviderError,
    anthropic_error_body,
    error_type,
    openai_error_body,
    render_error,
    scrub,
    sse_error_event,
)
from gateway.dataplane.sse import SSEParser


def responder(status: int, headers: list, body: bytes, content_type: str = "application/json"):
    def handler(request):
        hdrs = {k.decode(): v.decode() for k, v in headers}
        hdrs.setdefault("content-type", content_type)
        return httpx2.Response(status, headers=hdrs, content=body)

    return httpx2.Client(transport=httpx2.MockTransport(handler))


def openai_client(status, headers, body, content_type="application/json"):
    return openai.OpenAI(api_key="sy-test", base_url="http://gw.test/v1", max_retries=0,
                         http_client=responder(status, headers, body, content_type))


def anthropic_client(status, headers, body, content_type="application/json"):
    return anthropic.Anthropic(api_key="sy-test", base_url="http://gw.test/anthropic", max_retries=0,
                               http_client=responder(status, headers, body, content_type))


def test_it_renders_the_openai_envelope_with_param_and_code():
    err = GatewayError(400, "invalid_value", "'n' must be at least 1", param="n")
    assert openai_error_body(err) == {
        "error": {"message": "'n' must be at least 1", "type": "invalid_request_error", "param": "n",
                  "code": "invalid_value"}
    }


def test_it_renders_the_anthropic_envelope():
    err = GatewayError(429, "rate_limited", "slow down")
    assert anthropic_error_body(err) == {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}


@pytest.mark.parametrize(("status", "kind"), [
    (400, "invalid_request_error"), (401, "authentication_error"), (402, "billing_error"),
    (403, "permission_error"), (404, "not_found_error"), (413, "request_too_large"), (429, "rate_limit_error"),
    (500, "api_error"), (502, "api_error"), (503, "overloaded_error"), (504, "timeout_error"), (599, "api_error"),
    (418, "invalid_request_error"),
])
def test_it_maps_statuses_to_error_types(status, kind):
    assert error_type(status) == kind
    assert GatewayError(status, "c", "m").type == kind


def test_it_lets_an_explicit_type_win():
    assert GatewayError(400, "c", "m", type="custom_error").type == "custom_error"


def test_it_renders_status_headers_and_body_with_retry_after_rounded_up():
    err = GatewayError(429, "rate_limited", "slow down", retry_after=1.2, headers={"X-RateLimit-Remaining": "0"})
    status, headers, body = render_error(err, "openai")
    assert status == 429
    assert (b"retry-after", b"2") in headers
    assert (b"x-ratelimit-remaining", b"0") in headers
    assert (b"content-type", b"application/json") in headers
    assert json.loads(body)["error"]["code"] == "rate_limited"
    assert render_error(GatewayError(429, "c", "m", retry_after=3.0))[1][-1] == (b"retry-after", b"3")


@pytest.mark.parametrize(("status", "exc"), [
    (400, openai.BadRequestError), (401, openai.AuthenticationError), (403, openai.PermissionDeniedError),
    (404, openai.NotFoundError), (409, openai.ConflictError), (422, openai.UnprocessableEntityError),
    (429, openai.RateLimitError), (500, openai.InternalServerError), (502, openai.InternalServerError),
    (503, openai.InternalServerError), (504, openai.InternalServerError),
])
def test_it_makes_the_openai_sdk_raise_its_usual_exceptions(status, exc):
    err = GatewayError(status, "some_code", "gateway says no", param="model")
    client = openai_client(*render_error(err, "openai"))
    with pytest.raises(exc) as info:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == status
    assert info.value.code == "some_code" and info.value.param == "model"
    assert "gateway says no" in str(info.value)


@pytest.mark.parametrize(("status", "exc"), [
    (400, anthropic.BadRequestError), (401, anthropic.AuthenticationError), (403, anthropic.PermissionDeniedError),
    (404, anthropic.NotFoundError), (429, anthropic.RateLimitError), (500, anthropic.InternalServerError),
    (502, anthropic.InternalServerError), (503, anthropic.InternalServerError), (504, anthropic.InternalServerError),
    (529, anthropic.InternalServerError),
])
def test_it_makes_the_anthropic_sdk_raise_its_usual_exceptions(status, exc):
    err = GatewayError(status, "some_code", "gateway says no")
    client = anthropic_client(*render_error(err, "anthropic"))
    with pytest.raises(exc) as info:
        client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == status
    assert info.value.body["error"]["message"] == "gateway says no"


def test_it_renders_sse_error_events_each_sdk_raises_mid_stream():
    err = GatewayError(502, "upstream_error", "upstream went away")
    [oa] = SSEParser().feed(sse_error_event(err, "openai"))
    [an] = SSEParser().feed(sse_error_event(err, "anthropic"))
    assert oa.event == "message" and json.loads(oa.data)["error"]["message"] == "upstream went away"
    assert an.event == "error" and json.loads(an.data) == anthropic_error_body(err)

    first = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,' \
            b'"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
    client = openai_client(200, [], first + sse_error_event(err, "openai"), "text/event-stream")
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    with pytest.raises(openai.APIError, match="upstream went away"):
        list(stream)

    client = anthropic_client(200, [], sse_error_event(err, "anthropic"), "text/event-stream")
    with pytest.raises(anthropic.APIStatusError, match="upstream went away"):
        list(client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}], stream=True))


@pytest.mark.parametrize("leak", [
    "https://generativelanguage.googleapis.com/v1beta/models/x:generateContent?key=AIzaSyD-abcdefghijklmnopqrstuvwx",
    "Incorrect API key provided: sk-proj-abcdEFGH1234ijklMNOP5678.",
    "Invalid key AIzaSyD-abcdefghijklmnopqrstuvwx for project",
    "sent Authorization: Bearer eyJhbGciOi.payload.sig",
    "groq says gsk_ABCDEFGHIJKLMNOPQRSTUV is revoked",
    "Anthropic: sk-ant-api03-AbCdEfGhIjKlMnOp-QrStUv invalid",
    "url was https://x.example/v1?alt=sse&api_key=hunter2hunter2&x=1",
])
def test_it_scrubs_credentials_from_messages(leak):
    cleaned = scrub(leak)
    assert "[REDACTED]" in cleaned
    for secret in ("AIzaSyD-abcdefghijklmnopqrstuvwx", "sk-proj-abcdEFGH1234", "eyJhbGciOi", "gsk_ABCDEFGH",
                   "sk-ant-api03", "hunter2"):
        assert secret not in cleaned


def test_it_scrubs_explicit_secrets_and_leaves_ordinary_text():
    assert scrub("the key 0123456789abcdef0123 is wrong", ["0123456789abcdef0123"]) == "the key [REDACTED] is wrong"
    assert scrub("task-management and risk-free keys", ["short"]) == "task-management and risk-free keys"


@pytest.mark.parametrize(("upstream", "client_status"), [
    (400, 400), (404, 404), (413, 413), (422, 422), (429, 429), (401, 502), (403, 502), (500, 502), (503, 502),
    (408, 504), (504, 504),
])
def test_it_maps_provider_failures_to_client_statuses(upstream, client_status):
    err = ProviderError(upstream, "boom", retry_after=4.0, code="x").to_gateway_error()
    assert err.status == client_status and err.message == "boom" and err.retry_after == 4.0


def test_it_marks_connection_failures_retryable():
    assert ProviderError.connection().status == 502 and ProviderError.connection().retryable
    timeout = ProviderError.connection("read timed out", timeout=True)
    assert timeout.status == 504 and timeout.retryable and timeout.to_gateway_error().status == 504
