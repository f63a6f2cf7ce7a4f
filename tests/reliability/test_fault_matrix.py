"""B5 fault matrix: every fault mode through each ingress, against the fake upstreams.

Each case must give the caller its own wire format's error (with x-request-id and a code) or a
clean answer, within the route's total timeout + margin, in at most 1 + max_retries attempts,
with exactly one ledger row, and never a 500 of the gateway's own. tests/fault covers retry
and fallback choices in depth; this matrix checks that contract for every mode at once.
"""
import asyncio
import re
import time
from collections import Counter

import httpx
import pytest

from billing.models import UsageRecord
from tests.fakes.threaded import refused_url, start_in_thread
from tests.integration.dataplane.resilience_helpers import ledger_rows, multi_route, provider
from tests.reliability import wire
from tests.reliability.faults import CASES, MARGIN_S, MAX_RETRIES, RETRY, RETRY_AFTER_S, TIMEOUTS, Blackhole
from tests.servers import GatewayServer

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
BASE_MODEL = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku-latest"}
# (ingress, upstream kind): the two pass-through lanes and one translated lane.
LANES = (("openai", "openai"), ("anthropic", "anthropic"), ("openai", "anthropic"))
# Cases in flight at once: the client, the fakes and the gateway share a busy 2-core machine; all 51 at
# once measured the machine (every answer ~1.4 s late, fast ones too), not the timeouts.
IN_FLIGHT = 6


def _routes(fakes, blackhole):
    """One route per (lane, case), each with its own provider so no breaker or budget is shared."""
    made = {}
    for ingress, kind in LANES:
        for case in CASES:
            base = {"fake": fakes[(ingress, kind)].base_url, "refused": refused_url("/v1"),
                    "blackhole": f"http://127.0.0.1:{blackhole.port}/v1"}[case.target]
            model = BASE_MODEL[kind] + (f"~{case.scenario}" if case.scenario else "")
            name = re.sub(r"[^a-z0-9]+", "-", f"{ingress}-{kind}-{case.name}".lower()).strip("-")
            multi_route(name, [(provider(name, kind, base), model, 1)], retry=RETRY, timeouts=TIMEOUTS)
            made[(ingress, kind, case)] = (name, model)
    for (_ingress, kind), fake in list(fakes.items())[:2]:  # a healthy route per ingress, to warm the server up
        multi_route(f"warm-{kind}", [(provider(f"warm-{kind}", kind, fake.base_url), BASE_MODEL[kind], 1)])
    return made


async def _call(client, server, secret, ingress, stream, route, gate=None):
    path, body, headers = wire.chat_request(ingress, route, secret, stream=stream)
    async with gate or asyncio.Semaphore():
        started = time.monotonic()
        response = await client.post(server.url + path, json=body, headers=headers)
        return response, time.monotonic() - started


async def _run_all(server, secret, routes):
    async with httpx.AsyncClient(timeout=15, limits=httpx.Limits(max_connections=len(routes))) as client:
        for ingress, kind in LANES[:2]:  # first calls load tokenizers and adapters: not the faults' figures
            assert (await _call(client, server, secret, ingress, True, f"warm-{kind}"))[0].status_code == 200
        gate = asyncio.Semaphore(IN_FLIGHT)
        answers = await asyncio.gather(*(_call(client, server, secret, ingress, case.stream, name, gate)
                                         for (ingress, _kind, case), (name, _model) in routes.items()))
    return dict(zip(routes, answers, strict=True))


def _answer_problems(ingress, kind, case, response) -> tuple[str, list[str]]:
    problems = [] if response.status_code in case.statuses else [f"status {response.status_code}"]
    if response.status_code != 200:
        return "error", problems + wire.error_problems(ingress, response)
    if not case.stream:
        return "complete", problems
    outcome, envelope = wire.stream_outcome(ingress, response.text)
    allowed = case.stream_ok + (case.relayed if ingress == kind else ())
    return outcome, problems + envelope + ([] if outcome in allowed else [f"stream ended: {outcome}"])


def _judge(ingress, kind, case, response, elapsed, rows, sent_upstream) -> tuple[str, list[str]]:
    outcome, problems = _answer_problems(ingress, kind, case, response)
    if elapsed > TIMEOUTS["total"] + MARGIN_S:
        problems.append(f"took {elapsed:.2f} s")
    if len(rows) != 1:
        problems.append(f"{len(rows)} ledger rows")
    attempts = max([r.attempts for r in rows] + [len(sent_upstream)])
    if attempts > 1 + MAX_RETRIES:
        problems.append(f"{attempts} attempts")
    if response.status_code == 429 and len(sent_upstream) > 1 and \
            sent_upstream[1].at - sent_upstream[0].at < RETRY_AFTER_S:
        problems.append("retried a 429 before its Retry-After")
    return outcome, problems


def _record(report, lane, case, response, elapsed, rows, outcome, problems):
    code = rows[0].error_code if len(rows) == 1 and rows[0].error_code else "ok"
    served = response.status_code == 200 and outcome == "complete"
    report.record(
        f"B5 {lane}: {case.name}", sent=1, served=int(served),
        errors=Counter() if served else Counter({f"{response.status_code} {outcome}": 1}), ledger_rows=len(rows),
        lost=int(not rows), duplicated=max(0, len(rows) - 1), ok=not problems,
        figure=f"{code}, {elapsed * 1000:.0f} ms, {rows[0].attempts if rows else '?'} attempt(s)")


def test_it_answers_every_fault_in_the_callers_format_in_time_with_one_ledger_row(
        redis_client, api_key, fake_openai, fake_anthropic, reliability_report):
    translated = start_in_thread("anthropic")  # its own fake: the lanes' requests are counted apart
    fakes = {LANES[0]: fake_openai, LANES[1]: fake_anthropic, LANES[2]: translated}
    blackhole = Blackhole()
    try:
        routes = _routes(fakes, blackhole)
        with GatewayServer() as server:
            answers = asyncio.run(_run_all(server, api_key.secret, routes))
            ledger_rows(redis_client, len(routes) + 2, timeout=15)  # + the warm-up calls
    finally:
        blackhole.close()
        translated.stop()
    by_id = {}
    for row in UsageRecord.objects.all():
        by_id.setdefault(row.request_id, []).append(row)
    failures = {}
    for (ingress, kind, case), (response, elapsed) in answers.items():
        model = routes[(ingress, kind, case)][1]
        sent_upstream = [r for r in fakes[(ingress, kind)].requests if isinstance(r.body, dict)
                         and r.body.get("model") == model and bool(r.body.get("stream")) == case.stream]
        rows = by_id.get(response.headers.get("x-request-id"), [])
        outcome, problems = _judge(ingress, kind, case, response, elapsed, rows, sent_upstream)
        lane = ingress if ingress == kind else f"{ingress}→{kind}"
        _record(reliability_report, lane, case, response, elapsed, rows, outcome, problems)
        if problems:
            failures[f"{lane}: {case.name}"] = problems
    assert not failures, failures
