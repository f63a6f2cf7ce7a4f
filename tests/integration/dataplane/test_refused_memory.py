"""Refused requests free their memory (issue 14, finding 2): a shared exception instance kept
every refused request's context and body alive through its growing `__traceback__`."""
import asyncio
import json

import pytest

from tests.rawhttp import request_bytes, rss_kib, send_many
from tests.servers import GatewayServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.reliability]

BODY_BYTES = 100 * 1024  # a large prompt: what a leak would keep per request
REQUESTS = 10_000  # the figure; 10,000 x 100 KB would keep ~1 GB if each stayed alive
WARM_UP = 1_000  # first requests fill the allocator's arenas and the snapshot caches
BATCH = 1_000  # RSS is checked after each batch, so a leak fails fast instead of growing the server to 1 GB
CONNECTIONS = 8  # concurrent keep-alive connections: several requests in flight, little client CPU
MAX_GROWTH_KIB = 30 * 1024  # 30 MB: the bound for 10,000 requests (a leak adds 100 MB per batch)


def refused_requests(n: int) -> list[bytes]:
    """Half without a key, half with a well-formed but unknown one: both 401 answers."""
    content = "x" * (BODY_BYTES - 80)  # the rest of the JSON envelope makes up the 100 KB
    body = json.dumps({"model": "mock", "messages": [{"role": "user", "content": content}]}).encode()
    no_key = request_bytes("POST", "/v1/chat/completions", {"Content-Type": "application/json"}, body)
    bad_key = request_bytes("POST", "/v1/chat/completions",
                            {"Content-Type": "application/json", "Authorization": "Bearer sy-not-a-real-key"}, body)
    return [no_key if i % 2 else bad_key for i in range(n)]


def test_it_keeps_the_servers_memory_flat_across_ten_thousand_refused_requests(reliability_report):
    with GatewayServer() as server:
        statuses = asyncio.run(send_many(server.port, refused_requests(WARM_UP), CONNECTIONS))
        assert set(statuses) == {401}
        baseline = rss_kib(server.proc.pid)
        growth, sent = 0, 0
        while sent < REQUESTS and growth <= MAX_GROWTH_KIB:  # a leak stops it at the first batch over
            statuses = asyncio.run(send_many(server.port, refused_requests(BATCH), CONNECTIONS))
            assert statuses.count(401) == BATCH
            sent += BATCH
            growth = rss_kib(server.proc.pid) - baseline
    reliability_report.record(f"refused {BODY_BYTES // 1024} KB requests (no or unknown key)", sent=sent,
                              errors={401: sent}, figure=f"server RSS +{growth} KiB (bound {MAX_GROWTH_KIB} KiB)")
    assert growth <= MAX_GROWTH_KIB, f"server RSS grew {growth} KiB over {MAX_GROWTH_KIB} KiB after {sent} requests"
    print(f"RSS growth over {REQUESTS} refused {BODY_BYTES // 1024} KB requests: {growth} KiB")
