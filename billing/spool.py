"""The local append-only spool of usage events.

Used when Redis is unreachable (production) and always in embedded mode.
Each process appends JSON lines to its own file; a replay takes a file
over by renaming it, so appends and replays never interleave, and replays
are idempotent downstream (the ledger dedupes on event id).
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)
SUFFIX = ".jsonl"
# A claimed file untouched this long belongs to a replayer that died: take it over.
STALE_CLAIM_S = 60


def spool_dir(var_dir) -> Path:
    path = Path(var_dir) / "spool"
    path.mkdir(parents=True, exist_ok=True)
    return path


def append(directory: Path, events: list[dict]) -> None:
    if not events:
        return
    data = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
    path = directory / f"usage-{os.getpid()}{SUFFIX}"
    # O_APPEND writes of one buffer are not interleaved with other writers.
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _claim(path: Path) -> Path | None:
    claimed = path.with_name(path.name + f".replay-{os.getpid()}")
    try:
        os.replace(path, claimed)
    except FileNotFoundError:
        return None  # another replayer took it
    return claimed


def _stale_claim(path: Path) -> Path | None:
    try:
        fresh = time.time() - path.stat().st_mtime < STALE_CLAIM_S
    except FileNotFoundError:
        return None
    return None if fresh and not path.name.endswith(f".replay-{os.getpid()}") else path


def _read(path: Path) -> list[dict]:
    events = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                # A torn last line after a crash: keep the rest, say so loudly.
                log.error("usage spool %s: skipped an unreadable line", path.name)
    return events


def _pid_of(path: Path) -> int | None:
    try:
        return int(path.name.split("-", 1)[1].split(".", 1)[0])
    except (IndexError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def replay(directory: Path, sink, only_own=False) -> int:
    """Hand spooled events to `sink(events)`; a file is removed only after its sink succeeds.

    only_own: this process's files plus those of processes that died (a
    restarted server adopts its predecessor's spool); others replay their own.
    """
    total = 0
    for path in sorted(directory.glob(f"usage-*{SUFFIX}*")):
        pid = _pid_of(path)
        if only_own and pid != os.getpid() and _alive(pid):
            continue
        claimed = _stale_claim(path) if ".replay-" in path.name else _claim(path)
        if claimed is None:
            continue
        events = _read(claimed)
        sink(events)  # raises: the claimed file stays and is retried next time
        claimed.unlink(missing_ok=True)
        total += len(events)
    return total
