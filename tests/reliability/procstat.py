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


def settled(pid: int, interval: float = 0.25, steady: int = 4, timeout: float = 15.0) -> tuple[float, int]:
    """(RSS, fds) once the fd count has stayed the same for `steady` readings: connections the
    last requests left behind are closed by then (bounded by `timeout`)."""
    deadline, last, same = time.monotonic() + timeout, -1, 0
    while time.monotonic() < deadline and same < steady:
        count = fd_count(pid)
        same = same + 1 if count == last else 0
        last = count
        time.sleep(interval)
    return rss_mb(pid), fd_count(pid)


@dataclass
class Samples:
    at: list = field(default_factory=list)  # seconds since the start
    rss: list = field(default_factory=list)  # MB
    fds: list = field(default_factory=list)

    def write_csv(self, path) -> None:
        rows = [f"{t:.1f},{r:.1f},{f}" for t, r, f in zip(self.at, self.rss, self.fds, strict=True)]
        path.write_text("seconds,rss_mb,fds\n" + "\n".join(rows) + "\n")


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
