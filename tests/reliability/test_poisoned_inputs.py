"""B8 poisoned inputs: hostile values in every client-controlled field and header of both ingresses.

Each request must get a 4xx in the caller's envelope (with x-request-id) or a normal answer, never
a 5xx; and every served request must still get exactly one ledger row (issue 14: one long
x-request-id kept a whole batch of other tenants' rows out of the ledger).
"""
import asyncio
from collections import Counter, defaultdict

import httpx
import pytest

from billing.models import UsageRecord
from billing.usage_stream import drain
from tests.integration.dataplane.resilience_helpers import multi_route, provider
from tests.reliability import wire
from tests.reliability.poison import BODIES, HEADERS, SURFACES, field_cases
from tests.servers import GatewayServer, wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
IN_FLIGHT = 8  # concurrent requests: enough to finish ~700 cases in seconds on a shared machine
LEDGER_WAIT_S = 30  # bound for the drain to bring every row in


def _cases():
    """(surface, ingress, name, path, body, extra headers) for every field, body and header case."""
    for ingress, path, name, body in field_cases():
        yield f"B8 fields {path}", ingress, name, path, body, {}
    for ingress, path, base, _fields in SURFACES:
        for name, body in BODIES.items():
            yield "B8 whole bodies", ingress, f"{path} {name}", path, body, {}
        for name, headers in HEADERS.items():
            body = wire.json_bytes(base)
            yield "B8 headers", ingress, f"{path} {name}", path, body, headers


def _headers(ingress, secret, extra):
    auth = {"x-api-key": secret, "anthropic-version": wire.ANTHROPIC_VERSION} if ingress == "anthropic" \
        else {"authorization": f"Bearer {secret}"}
    return {"content-type": "application/json", **auth, **extra}


async def _send_all(url, secret, cases):
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(case):
        _surface, ingress, _name, path, body, extra = case
        async with gate:
            return await client.post(url + path, content=body, headers=_headers(ingress, secret, extra))

    async with httpx.AsyncClient(timeout=30) as client:
        return await asyncio.gather(*(one(c) for c in cases))


def _problems(ingress, response) -> list[str]:
    if response.status_code >= 500:
        return [f"{response.status_code}: {response.text[:160]}"]
    if response.status_code != 200:
        return wire.error_problems(ingress, response)
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        outcome, problems = wire.stream_outcome(ingress, response.text)
        return problems + ([] if outcome in ("complete", "error") else [f"stream ended: {outcome}"])
    return wire.answer_problems(ingress, response)


def _drained(redis_client, served_ids, failures):
    try:
        drain(redis_client)
    except Exception as exc:  # noqa: BLE001 - a poisoned batch: report it, keep counting what got in
        failures.setdefault("ledger drain", []).append(f"{type(exc).__name__}: {str(exc)[:200]}")
        return True
    return set(UsageRecord.objects.filter(request_id__in=served_ids).values_list("request_id", flat=True)) \
        >= served_ids


def test_it_answers_poisoned_fields_with_a_4xx_or_an_answer_and_keeps_every_ledger_row(
        redis_client, api_key, fake_openai, fake_anthropic, reliability_report):
    openai, anthropic = provider("p-openai", "openai", fake_openai.base_url), \
        provider("p-anthropic", "anthropic", fake_anthropic.base_url)
    for name, target, model in (("gpt", openai, "gpt-4o-mini"), ("embed", openai, "text-embedding-3-small"),
                                ("claude", anthropic, "claude-3-5-haiku-latest")):
        multi_route(name, [(target, model, 1)])
    cases = list(_cases())
    with GatewayServer() as server:
        responses = asyncio.run(_send_all(server.url, api_key.secret, cases))
    failures = defaultdict(list)
    served_ids = {r.headers.get("x-request-id") for r in responses if r.status_code == 200}
    wait_until(lambda: _drained(redis_client, served_ids, failures), timeout=LEDGER_WAIT_S, interval=0.5)
    rows = Counter(UsageRecord.objects.values_list("request_id", flat=True))
    by_surface = defaultdict(list)
    for case, response in zip(cases, responses, strict=True):
        by_surface[case[0]].append((case, response))
        for problem in _problems(case[1], response):
            failures[case[2]].append(problem)
        if response.status_code == 200 and rows.get(response.headers.get("x-request-id"), 0) != 1:
            failures[case[2]].append(f"{rows.get(response.headers.get('x-request-id'), 0)} ledger rows")
    for surface, answered in by_surface.items():
        _record(reliability_report, surface, answered, rows, failures)
    assert not failures, dict(list(failures.items())[:20])


def _record(report, surface, answered, rows, failures):
    statuses = Counter(r.status_code for _c, r in answered)
    served = statuses.pop(200, 0)
    ids = [r.headers.get("x-request-id") for _c, r in answered if r.status_code == 200]
    bad = sum(1 for c, _r in answered if c[2] in failures)
    fives = sum(n for status, n in statuses.items() if status >= 500)
    report.record(surface, sent=len(answered), served=served, errors=statuses,
                  ledger_rows=sum(rows.get(i, 0) for i in set(ids)), lost=sum(1 for i in ids if not rows.get(i)),
                  duplicated=sum(max(0, rows.get(i, 0) - 1) for i in set(ids)), ok=bad == 0,
                  figure=f"{fives} answers >= 500; {bad} cases failing")
