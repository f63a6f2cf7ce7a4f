"""gateway.run's Supervisor with stand-in processes: restarts with backoff, never stops the others.

The real tree (uvicorn, Celery worker and beat) is killed in tests/integration/test_embedded_mode.py.
"""
import os
import signal
import sys
import threading
import time

import pytest

from gateway import run

pytestmark = pytest.mark.slow
BASE = 0.1  # seconds: the first backoff here, so a few doublings fit in a short test


def starts_of(path):
    return [float(line) for line in path.read_text().split()] if path.exists() else []


def logging_crasher(path, code=3, lifetime=0.0):
    """A command that appends its start time (system-wide monotonic) to `path`, lives `lifetime` s, exits `code`."""
    script = (f"import time; open({str(path)!r}, 'a').write(f'{{time.monotonic()}}\\n'); "
              f"time.sleep({lifetime}); raise SystemExit({code})")
    return [sys.executable, "-c", script]


def run_for(supervisor, seconds):
    threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM)).start()
    return supervisor.run()


def test_it_restarts_a_dead_child_with_doubling_backoff_and_leaves_the_others_running(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "BACKOFF_BASE_SECONDS", BASE)
    starts = tmp_path / "crasher.starts"
    supervisor = run.Supervisor({"sleeper": ["sleep", "60"], "crasher": logging_crasher(starts)})
    assert run_for(supervisor, 3.5) == 0  # a requested stop, obeyed: the crashes do not make it fail
    times = starts_of(starts)
    assert len(times) >= 4, times  # 0.1 + 0.2 + 0.4 + 0.8 s of backoff (plus start-ups) fit in 3.5 s
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # Each wait is at least the doubled backoff (the 0.2-s poll and start-ups only add to it);
    # with the quick first restarts above, that is the doubling.
    assert all(gap >= BASE * 2**i for i, gap in enumerate(gaps)), gaps
    assert supervisor.children["sleeper"].returncode == -signal.SIGTERM  # one process, stopped only at the end
    assert supervisor.restarts["crasher"].failures == len(times)


def test_it_caps_the_backoff():
    delays = [run.backoff_seconds(n) for n in range(1, 12)]
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(delays) == run.BACKOFF_CAP_SECONDS == delays[-1]


def test_it_forgives_a_child_that_ran_for_the_stable_period(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "BACKOFF_BASE_SECONDS", BASE)
    monkeypatch.setattr(run, "STABLE_SECONDS", 0.3)
    starts = tmp_path / "steady.starts"
    # Lives 0.5 s (> STABLE_SECONDS) each time: every exit is a first failure, restarted after BASE.
    supervisor = run.Supervisor({"steady": logging_crasher(starts, lifetime=0.5)})
    assert run_for(supervisor, 3.0) == 0
    assert len(starts_of(starts)) >= 4
    assert supervisor.restarts["steady"].failures == 1


def test_it_does_not_restart_a_child_once_asked_to_stop(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "BACKOFF_BASE_SECONDS", 2.0)  # the stop arrives during the first backoff
    starts = tmp_path / "crasher.starts"
    supervisor = run.Supervisor({"sleeper": ["sleep", "60"], "crasher": logging_crasher(starts)})
    started = time.monotonic()
    assert run_for(supervisor, 1.0) == 0
    assert time.monotonic() - started < 5
    time.sleep(BASE)  # nothing may start after run() returned
    assert len(starts_of(starts)) == 1
