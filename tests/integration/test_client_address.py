"""The client address is the TCP peer's (issue 14, finding 4): uvicorn trusted X-Forwarded-For
and X-Forwarded-Proto from any peer on loopback, so a local client (or a proxy passing the
header through) chose the address that the throttles count. Django's TRUSTED_PROXIES decides."""
import subprocess
import sys

import httpx
import pytest

from gateway.http_protocol import UVICORN_FLAGS
from tests.servers import ROOT, free_port, server_env, wait_until

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _answers(url):
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_it_keeps_the_peer_address_whatever_x_forwarded_for_says():
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "tests.echo_asgi:app", "--port", str(port), "--no-access-log",
            *UVICORN_FLAGS]
    proc = subprocess.Popen(args, cwd=ROOT, env=server_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        assert wait_until(lambda: _answers(url), timeout=20), "the echo server did not start"
        seen = httpx.get(url, headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}).json()
    finally:
        proc.terminate()
        proc.wait(10)
    assert seen == {"client": "127.0.0.1", "scheme": "http"}
