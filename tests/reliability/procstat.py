"""RSS and open file descriptors of a process, sampled from /proc while traffic runs."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / MB


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class Samples:
    at: list = field(default_factory=list)  # seconds since the start
    rss: list = field(default_factory=list)  # MB
    fds: list = field(default_factory=list)

    def window(self, series: list, start: float, end: float) -> list:
        return [v for t, v in zip(self.at, series, strict=True) if start <= t <= end] or series[-1:]


class Sampler:
    """A daemon thread reading /proc/PID every `interval` seconds until stopped."""

    def __init__(self, pid: int, interval: float):
        self.pid, self.interval, self.samples = pid, interval, Samples()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sampler-{pid}", daemon=True)
        self._started = time.monotonic()

    def _run(self):
        while not self._stop.is_set():
            self.samples.at.append(time.monotonic() - self._started)
            self.samples.rss.append(rss_mb(self.pid))
            self.samples.fds.append(fd_count(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(self.interval * 2 + 1)
