"""The breaker rules (in-process store), the board's view, and the retry budget."""
from gateway.dataplane.resilience.board import MAX_COOLDOWN_S, BreakerBoard
from gateway.dataplane.resilience.budget import RetryBudget
from gateway.dataplane.resilience.policy import BreakerSettings, breaker_settings
from gateway.dataplane.resilience.store import CLAIM_BUSY, CLAIM_CLOSED, CLAIM_GRANTED
from tests.unit.dataplane.resilience_support import Clock

DEFAULTS = BreakerSettings()


def board_with_clock(**settings):
    clock = Clock()
    return BreakerBoard(clock=clock), clock, BreakerSettings(**settings)


def fail(board, settings, times, target=1):
    for _ in range(times):
        board.record(target, settings, ok=False)


def test_it_opens_after_five_consecutive_failures():
    board, clock, s = board_with_clock()
    fail(board, s, 4)
    board.record(1, s, ok=True)  # a success in between starts the count over
    fail(board, s, 4)
    assert 1 not in board.open
    fail(board, s, 1)
    assert board.open[1] == clock.now + 30


def test_it_opens_on_the_error_rate_of_a_window():
    board, clock, s = board_with_clock(failures=0, error_rate=0.5, min_requests=20, window_s=30)
    for i in range(19):
        board.record(1, s, ok=i % 2 == 0)  # 10 ok, 9 failed: too few requests yet
    assert 1 not in board.open
    board.record(1, s, ok=False)  # 20 requests, 10 failed: 50 %
    assert 1 in board.open


def test_it_counts_the_error_rate_per_window():
    board, clock, s = board_with_clock(failures=0, min_requests=20, window_s=30)
    fail(board, s, 15)
    clock.advance(31)  # a new window: the old failures no longer count
    for _ in range(10):
        board.record(1, s, ok=True)
    fail(board, s, 9)
    assert 1 not in board.open


async def test_it_lets_one_probe_through_after_the_cooldown():
    board, clock, s = board_with_clock()
    fail(board, s, 5)
    assert await board.claim_probe(1, ttl=60) == CLAIM_BUSY  # still cooling down
    clock.advance(30)
    assert await board.claim_probe(1, ttl=60) == CLAIM_GRANTED
    assert await board.claim_probe(1, ttl=60) == CLAIM_BUSY  # one probe at a time
    board.settle_probe(1, s, True)
    assert 1 not in board.open
    assert await board.claim_probe(1, ttl=60) == CLAIM_CLOSED


async def test_it_grows_the_cooldown_with_each_ejection_up_to_the_cap():
    board, clock, s = board_with_clock(cooldown_s=30, max_cooldown_s=100)
    fail(board, s, 5)
    waits = []
    for _ in range(4):
        waits.append(board.open[1] - clock.now)
        clock.advance(board.open[1] - clock.now)
        assert await board.claim_probe(1, ttl=60) == CLAIM_GRANTED
        board.settle_probe(1, s, False)
    assert waits == [30, 60, 90, 100]


async def test_it_counts_ejections_again_from_one_after_a_healthy_spell():
    board, clock, s = board_with_clock(cooldown_s=30, max_cooldown_s=100)
    fail(board, s, 5)
    clock.advance(30)
    await board.claim_probe(1, ttl=60)
    board.settle_probe(1, s, True)
    clock.advance(50)
    fail(board, s, 5)
    assert board.open[1] - clock.now == 60  # within max_cooldown of the last one: the second ejection
    clock.advance(60)
    await board.claim_probe(1, ttl=60)
    board.settle_probe(1, s, True)
    clock.advance(101)
    fail(board, s, 5)
    assert board.open[1] - clock.now == 30


async def test_it_frees_the_probe_slot_when_a_probe_ends_without_a_verdict():
    board, clock, s = board_with_clock()
    fail(board, s, 5)
    clock.advance(30)
    assert await board.claim_probe(1, ttl=60) == CLAIM_GRANTED
    board.settle_probe(1, s, None)  # the client went away
    assert await board.claim_probe(1, ttl=60) == CLAIM_GRANTED


def test_it_ignores_outcomes_of_requests_started_before_it_opened():
    board, clock, s = board_with_clock()
    fail(board, s, 5)
    until = board.open[1]
    for _ in range(10):
        board.record(1, s, ok=True)
    assert board.open[1] == until


def test_it_keeps_quiet_when_disabled():
    board, _clock, _s = board_with_clock()
    fail(board, BreakerSettings(enabled=False), 50)
    assert not board.open


def test_it_cools_a_target_down_for_its_retry_after_capped():
    board, clock, _s = board_with_clock()
    board.cool_down(1, 2.5)
    board.cool_down(2, 86400)
    assert board.cool == {1: clock.now + 2.5, 2: clock.now + MAX_COOLDOWN_S}


def test_it_reads_breaker_settings_leniently():
    assert breaker_settings({}) == DEFAULTS
    assert breaker_settings({"failures": "five", "error_rate": 7, "cooldown_s": 1.5}) == BreakerSettings(cooldown_s=1.5)
    assert breaker_settings({"enabled": False}).enabled is False


def test_it_budgets_retries_at_a_fifth_of_active_requests_with_a_floor_of_three():
    budget = RetryBudget()
    for _ in range(50):
        budget.enter()
    granted = sum(budget.try_acquire() for _ in range(50))
    assert granted == 10 and budget.refused == 40
    for _ in range(10):
        budget.release()
    for _ in range(49):
        budget.leave()
    assert sum(budget.try_acquire() for _ in range(10)) == 3  # one request, but three retries may run
