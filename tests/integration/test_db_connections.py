"""A server's PostgreSQL connections stay bounded under ASGI (issue 14, finding 3).

Django runs each ASGI request's sync code in a thread of its own; with persistent
connections (CONN_MAX_AGE > 0) every such thread left one open, so 150 calls in a row
exhausted PostgreSQL's max_connections. pg_stat_activity is sampled while a real server
answers REST calls; only this test database's backends are counted (PostgreSQL is shared).
"""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from django.db import connection

from gateway.models import Role
from gateway.services.keys import key_create
from tests.conftest import make_member
from tests.servers import GatewayServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CALLS = 300  # the figure: twice the 150 calls that failed
MAX_CONNECTIONS = 20  # a fifth of the shared server's max_connections (100)
IN_FLIGHT = 8  # concurrent clients in the parallel run: a busy console, not a load test
SAMPLE_EVERY_S = 0.02  # pg_stat_activity is cheap; 50 samples a second catch short-lived backends
PATHS = ("/api/v1/keys/", "/api/v1/tenants/", "/api/v1/routes/", "/api/v1/memberships/", "/api/v1/teams/")


class ConnectionSampler(threading.Thread):
    """Counts this database's backends (its own excluded) until stopped; keeps the peak."""

    def __init__(self):
        super().__init__(daemon=True)
        db = connection.settings_dict
        self.dsn = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        self.peak, self.samples = 0, 0
        self.done = threading.Event()

    def run(self):
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.done.is_set():
                count = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                     " AND pid <> pg_backend_pid()").fetchone()[0]
                self.peak, self.samples = max(self.peak, count), self.samples + 1
                self.done.wait(SAMPLE_EVERY_S)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.join()


@pytest.fixture
def admin_secret(tenant_a):
    owner = make_member(tenant_a, "ops@a.test", Role.ADMIN)
    _key, secret = key_create(tenant=tenant_a, name="ops", owner=owner)
    return secret


def _call(client, i):
    return client.get(PATHS[i % len(PATHS)]).status_code


def _run(server, secret, in_flight):
    """CALLS REST calls, `in_flight` at a time: (statuses, wall seconds, peak connections)."""
    headers = {"Authorization": f"Bearer {secret}"}
    limits = httpx.Limits(max_connections=in_flight)
    with httpx.Client(base_url=server.url, headers=headers, timeout=30, limits=limits) as client:
        with ConnectionSampler() as sampler, ThreadPoolExecutor(in_flight) as pool:
            started = time.monotonic()
            statuses = list(pool.map(lambda i: _call(client, i), range(CALLS)))
            wall = time.monotonic() - started
    print(f"\n{CALLS} calls, {in_flight} in flight: {wall:.2f} s, peak {sampler.peak} connections"
          f" over {sampler.samples} samples")
    return statuses, wall, sampler.peak


def test_it_keeps_a_servers_connections_bounded_over_300_rest_calls(admin_secret):
    with GatewayServer() as server:
        statuses, _wall, peak = _run(server, admin_secret, in_flight=1)
        errors = [s for s in statuses if s != 200]
        assert errors == [] and peak <= MAX_CONNECTIONS, (errors[:5], peak, server.output()[-2000:])


def test_it_keeps_connections_bounded_with_concurrent_rest_calls(admin_secret):
    with GatewayServer() as server:
        statuses, _wall, peak = _run(server, admin_secret, in_flight=IN_FLIGHT)
        errors = [s for s in statuses if s != 200]
        assert errors == [] and peak <= MAX_CONNECTIONS, (errors[:5], peak, server.output()[-2000:])
