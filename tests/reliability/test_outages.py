"""B6: PostgreSQL, then Redis, stopped under steady traffic; no usage lost or counted twice.

The stack is private (tests/reliability/stack.py): stopping the shared servers would break
every other test run. Traffic is open-loop, before, during and after the stop; once the
service is back, the ledger must hold exactly one row for every answered request.
"""
import asyncio
import time

import pytest

from tests.reliability import scale
from tests.reliability.load import open_loop, tally
from tests.servers import wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.slow]
POLL_S = 1.0  # how often the ledger is counted while it catches up


async def _traffic_with_outage(stack, service, size):
    target = stack.postgres if service == "postgres" else stack.redis
    load = asyncio.ensure_future(open_loop(stack.server.url, stack.secret, size.outage_rate,
                                           2 * size.calm_s + size.outage_s))
    await asyncio.sleep(size.calm_s)
    await asyncio.to_thread(target.stop)
    await asyncio.sleep(size.outage_s)
    was_down = not await asyncio.to_thread(target.is_up)  # the outage really happened
    await asyncio.to_thread(target.start)
    return await load, was_down


def _ledger_caught_up(stack, ids):
    try:
        counts = stack.ledger_counts(ids)
    except Exception:  # noqa: BLE001 - PostgreSQL may still be coming back; poll again
        return None
    return counts if set(counts) >= ids else None


@pytest.mark.parametrize("service", ["postgres", "redis"])
def test_it_loses_no_usage_while_a_backing_service_is_stopped(private_stack, service, reliability_report):
    size = scale.current()
    outcomes, was_down = asyncio.run(_traffic_with_outage(private_stack, service, size))
    assert was_down
    answered = {o.request_id for o in outcomes if o.request_id}
    started = time.monotonic()
    counts = wait_until(lambda: _ledger_caught_up(private_stack, answered), timeout=size.recovery_s,
                        interval=POLL_S) or private_stack.ledger_counts(answered)
    caught_up_s = time.monotonic() - started
    served, errors = tally(outcomes)
    lost = len(answered - set(counts))
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    reliability_report.record(
        f"B6 {service} stopped {size.outage_s:g} s at {size.outage_rate:g} req/s", sent=len(outcomes),
        served=served, errors=errors, ledger_rows=sum(counts.values()), lost=lost, duplicated=duplicated,
        figure=f"ledger complete {caught_up_s:.1f} s after the last answer")
    assert lost == 0 and duplicated == 0, private_stack.logs()
    assert 500 not in errors, errors
    assert all(private_stack.alive().values()), private_stack.alive()
    if service == "redis":  # B6: the switch to the local spool is logged at ERROR
        assert "spooling locally" in private_stack.server.output()
