"""The provider "Test" button connects to the address it checked (no second lookup to rebind)."""
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from gateway.console import provider_check
from gateway.models import Provider
from tests.fakes import closed_port

SECRET = "sk-check-canary-1234567890"


class Recorder(BaseHTTPRequestHandler):
    """Records (server address, path, Host, Authorization) and answers with `answer`."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        server = self.server
        server.seen.append((server.server_address[0], self.path, self.headers["Host"], self.headers["Authorization"]))
        status, body = server.answer
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # keep pytest's output clean


def serve(host, port, answer=(200, b'{"data": []}')):
    server = ThreadingHTTPServer((host, port), Recorder)
    server.seen, server.answer = [], answer
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def checked_and_rebound():
    """The same port on 127.0.0.1 (the address the check sees) and 127.0.0.2 (the rebound one)."""
    port = closed_port()
    servers = serve("127.0.0.1", port), serve("127.0.0.2", port)
    yield port, servers
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def rebinding_localhost(monkeypatch):
    """A resolver stub: `localhost` is 127.0.0.1 on the first lookup, 127.0.0.2 afterwards
    (what a DNS-rebinding attacker's name does); every other name resolves as usual."""
    real, lookups = socket.getaddrinfo, []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "localhost":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


@pytest.mark.django_db
def test_it_connects_to_the_checked_address_when_the_name_rebinds(
    admin_client, tenant_a, settings, checked_and_rebound, rebinding_localhost
):
    settings.SSRF_ALLOW_PRIVATE = False
    settings.SSRF_ALLOW_CIDRS = ["127.0.0.1/32"]  # the checked address only; 127.0.0.2 is forbidden
    port, (checked, rebound) = checked_and_rebound
    provider = Provider.objects.create(tenant=tenant_a, name="rebind", kind="openai",
                                       base_url=f"http://localhost:{port}/v1", api_key=SECRET)
    page = admin_client.post(reverse("console:provider_test", args=[provider.pk])).content.decode()
    assert "HTTP 200 from localhost" in page
    assert checked.seen == [("127.0.0.1", "/v1/models", f"localhost:{port}", f"Bearer {SECRET}")]
    assert rebound.seen == [] and rebinding_localhost == ["localhost"]  # resolved once


@pytest.mark.django_db
def test_it_names_the_setting_when_refusing_a_private_address(tenant_a, settings):
    settings.SSRF_ALLOW_PRIVATE, settings.SSRF_ALLOW_CIDRS = False, []
    provider = Provider(tenant=tenant_a, name="local", kind="openai", base_url="http://127.0.0.1:9/v1")
    ok, message = provider_check.check(provider)
    assert not ok and "SSRF_ALLOW_CIDRS" in message and "SSRF_ALLOW_PRIVATE" in message


@pytest.mark.django_db
def test_it_scrubs_the_key_from_an_upstream_error_it_echoes(admin_client, tenant_a, settings):
    settings.SSRF_ALLOW_CIDRS = ["127.0.0.1/32"]
    port = closed_port()
    server = serve("127.0.0.1", port, answer=(401, f"invalid key {SECRET}".encode()))
    try:
        provider = Provider.objects.create(tenant=tenant_a, name="echo", kind="openai",
                                           base_url=f"http://127.0.0.1:{port}/v1", api_key=SECRET)
        page = admin_client.post(reverse("console:provider_test", args=[provider.pk])).content.decode()
    finally:
        server.shutdown()
        server.server_close()
    assert server.seen[0][3] == f"Bearer {SECRET}"
    assert "HTTP 401" in page and "invalid key" in page and SECRET not in page


def _self_signed(tmp_path):
    """A certificate for `localhost` that no CA signed: verification must fail on it."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + timedelta(days=1))  # a day: the test's lifetime, with room
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.mark.django_db
def test_it_keeps_the_name_for_tls_when_connecting_to_the_checked_address(
    tenant_a, settings, tmp_path, rebinding_localhost
):
    import ssl

    settings.SSRF_ALLOW_PRIVATE, settings.SSRF_ALLOW_CIDRS = False, ["127.0.0.1/32"]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))
    names = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server = serve("127.0.0.1", closed_port())
    server.socket = context.wrap_socket(server.socket, server_side=True)
    try:
        provider = Provider(tenant=tenant_a, name="tls", kind="openai",
                            base_url=f"https://localhost:{server.server_address[1]}/v1")
        ok, message = provider_check.check(provider)
    finally:
        server.shutdown()
        server.server_close()
    # The connection went to 127.0.0.1 (the first answer), asked for `localhost` by SNI,
    # and verified the certificate against the name: a self-signed one is refused.
    assert names == ["localhost"]
    assert not ok and "CERTIFICATE_VERIFY_FAILED" in message
