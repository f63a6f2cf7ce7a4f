"""Slack-compatible and signed generic webhooks, against a real receiver on 127.0.0.1.

The receiver verifies the signature with its own HMAC code (not billing's), as
a customer's endpoint would, and can be told to fail or redirect.
"""
import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from billing.alerts.deliver import MAX_ATTEMPTS
from billing.models import AlertChannel, AlertDelivery, AlertEvent, Budget
from tests.integration.test_alerts import NOW, run, spend

SECRET = "whsec-test-0123456789abcdef"


def signature_ok(header, body, secret=SECRET, tolerance=300):
    """A receiver's check: t=<unix>,v1=<hex of HMAC-SHA256(secret, t + "." + body)>."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return abs(time.time() - int(parts["t"])) <= tolerance and hmac.compare_digest(expected, parts["v1"])


class Receiver(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.requests = []  # (path, headers, body, signature valid)
        self.answers = []  # statuses to answer next, then 200

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["content-length"]))
        header = self.headers.get("x-switchyard-signature")
        valid = header is not None and signature_ok(header, body)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.requests.append((self.path, headers, body, valid))
        status = self.server.answers.pop(0) if self.server.answers else 200
        self.send_response(status)
        if status in (301, 302, 307):
            self.send_header("location", self.server.url + "/elsewhere")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass  # keep pytest output clean


@pytest.fixture
def receiver(settings):
    settings.SSRF_ALLOW_PRIVATE = True  # the receiver listens on loopback
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def webhook(tenant, url, kind="webhook", **fields):
    return AlertChannel.objects.create(
        tenant=tenant, name=kind, kind=kind, target=url, secret=SECRET if kind == "webhook" else "",
        alert_kinds=["threshold"], **fields,
    )


def over_half(tenant):
    Budget.objects.create(tenant=tenant, scope="tenant", amount_usd="10")
    spend(tenant, "6", NOW - timedelta(hours=1))


@pytest.mark.django_db
def test_it_posts_slack_text_once_per_threshold(tenant_a, receiver):
    webhook(tenant_a, receiver.url + "/services/T0/B0/slack-token", kind="slack")
    over_half(tenant_a)
    run(NOW)
    run(NOW + timedelta(minutes=1))
    assert len(receiver.requests) == 1
    path, headers, body, _valid = receiver.requests[0]
    assert path == "/services/T0/B0/slack-token"
    assert headers["content-type"] == "application/json"
    assert set(json.loads(body)) == {"text"}
    assert json.loads(body)["text"].startswith("[Switchyard] tenant-a: the monthly tenant budget")


@pytest.mark.django_db
def test_it_signs_webhooks_so_the_receiver_can_verify_them(tenant_a, receiver):
    webhook(tenant_a, receiver.url + "/hook")
    over_half(tenant_a)
    spend(tenant_a, "3", NOW + timedelta(minutes=1))
    run(NOW)
    run(NOW + timedelta(minutes=2))
    run(NOW + timedelta(minutes=3))
    assert [valid for *_rest, valid in receiver.requests] == [True, True]
    documents = [json.loads(body) for _p, _h, body, _v in receiver.requests]
    assert [d["threshold"] for d in documents] == [50, 80]
    assert documents[1]["type"] == "alert.threshold"
    assert documents[1]["data"]["spent_usd"] == "9.000000"
    event = AlertEvent.objects.get(threshold=80)
    assert receiver.requests[1][1]["x-switchyard-event-id"] == str(event.pk)
    assert not signature_ok(receiver.requests[1][1]["x-switchyard-signature"], receiver.requests[1][2], "wrong")


@pytest.mark.django_db
def test_it_retries_a_failing_webhook_without_duplicating_the_alert(tenant_a, receiver):
    webhook(tenant_a, receiver.url + "/hook")
    over_half(tenant_a)
    receiver.answers = [500, 503]
    run(NOW)
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        "retrying", 1, "the receiver answered HTTP 500"
    )
    run(NOW + timedelta(seconds=30))  # not due yet: the first retry waits a minute
    assert len(receiver.requests) == 1
    run(NOW + timedelta(minutes=1))
    run(NOW + timedelta(minutes=3))  # the second retry waits two more minutes
    run(NOW + timedelta(minutes=4))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")
    assert AlertEvent.objects.count() == 1
    event_ids = {headers["x-switchyard-event-id"] for _p, headers, _b, _v in receiver.requests}
    assert len(receiver.requests) == 3 and len(event_ids) == 1


@pytest.mark.django_db
def test_it_gives_up_after_the_last_attempt(tenant_a, receiver):
    webhook(tenant_a, receiver.url + "/hook")
    over_half(tenant_a)
    receiver.answers = [500] * (MAX_ATTEMPTS + 3)
    for minute in range(40):  # attempts at minutes 0, 1, 3, 7, 15 and 31
        run(NOW + timedelta(minutes=minute))
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", MAX_ATTEMPTS, None)
    assert len(receiver.requests) == MAX_ATTEMPTS


@pytest.mark.django_db
def test_it_never_follows_a_redirect(tenant_a, receiver):
    webhook(tenant_a, receiver.url + "/hook")
    over_half(tenant_a)
    receiver.answers = [302]
    run(NOW)
    assert [path for path, *_rest in receiver.requests] == ["/hook"]
    assert AlertDelivery.objects.get().last_error == "the receiver answered HTTP 302"


@pytest.mark.django_db
def test_it_refuses_private_addresses_unless_allowed(tenant_a, receiver, settings):
    settings.SSRF_ALLOW_PRIVATE = False
    webhook(tenant_a, receiver.url + "/hook")
    webhook(tenant_a, "http://169.254.169.254/latest/meta-data", kind="slack")
    over_half(tenant_a)
    run(NOW)
    assert receiver.requests == []
    errors = set(AlertDelivery.objects.values_list("last_error", flat=True))
    assert errors == {"the host resolves only to forbidden (private or special) addresses"}
    settings.SSRF_ALLOW_CIDRS = ["127.0.0.0/8"]
    run(NOW + timedelta(minutes=1))
    assert len(receiver.requests) == 1 and receiver.requests[0][3]


@pytest.mark.django_db
def test_it_delivers_to_every_channel_kind_once(tenant_a, receiver, mailoutbox):
    webhook(tenant_a, receiver.url + "/hook")
    webhook(tenant_a, receiver.url + "/slack", kind="slack")
    AlertChannel.objects.create(tenant=tenant_a, name="mail", kind="email", target="ops@a.test")
    over_half(tenant_a)
    for minute in range(3):
        run(NOW + timedelta(minutes=minute))
    assert sorted(path for path, *_rest in receiver.requests) == ["/hook", "/slack"]
    assert len(mailoutbox) == 1
    assert set(AlertDelivery.objects.values_list("status", "attempts")) == {("sent", 1)}
