"""A timeout seen while this process's event loop ran late does not count against the target."""
from __future__ import annotations

import asyncio
import time

from gateway.dataplane.errors import ProviderError
from gateway.dataplane.resilience import Resilience
from gateway.dataplane.resilience.failover import _verdict
from gateway.dataplane.resilience.lag import LATE_S, LoopLag


async def test_it_notices_a_loop_that_ran_late():
    lag = LoopLag()
    lag.ensure_started()
    try:
        await asyncio.sleep(0.25)
        assert not lag.recent()
        time.sleep(LATE_S + 0.3)  # the loop is blocked, as under a burst of thousands of requests
        await asyncio.sleep(0.15)
        assert lag.recent()
    finally:
        lag.stop()


async def test_a_timeout_during_a_lag_says_nothing_about_the_target():
    state = Resilience()
    timeout = ProviderError.connection("upstream did not answer in time", timeout=True)
    refused = ProviderError.connection("could not connect to the upstream")
    assert _verdict(timeout, state) is False  # a quiet loop: the upstream was slow
    assert _verdict(None, state) is True
    state.lag.lagged_at = asyncio.get_running_loop().time()
    assert _verdict(timeout, state) is None  # neither a success nor a failure for the breaker
    assert _verdict(refused, state) is False  # a refused connection is the upstream's, lag or not
