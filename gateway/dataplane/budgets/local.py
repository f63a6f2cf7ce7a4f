"""Budget counters in process memory, for embedded mode (no Redis).

Same operations and semantics as the Lua scripts in `lua.py`. Embedded mode
serves from one worker process, so these counters see every call; they start
from the ledger at the first snapshot build and are reconciled with it at
every build after (billing/budgets.py). A lock makes each operation atomic
between the event loop and the snapshot builder's thread.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from gateway.dataplane.budgets import money
from gateway.dataplane.budgets.plan import Counter
from gateway.dataplane.budgets.store import ADMITTED, CHARGE, RELEASE, Reconciled, Status, Verdict


@dataclass(slots=True)
class _Cell:
    spent: int = 0  # pico-dollars
    reserved: int = 0  # micro-dollars
    buckets: dict = field(default_factory=dict)  # arrival minute -> pico-dollars
    open: dict = field(default_factory=dict)  # member -> (lapses at, micro-dollars)
    expire_at: int = 0

    def purge(self, now: float) -> int:
        lapsed = [m for m, (until, _) in self.open.items() if until <= now]
        for member in lapsed:
            self.reserved -= self.open.pop(member)[1]
        return len(lapsed)

    def used_micro(self) -> int:
        micro, rest = money.split(self.spent)
        return micro + self.reserved + (1 if rest else 0)


class LocalCounters:
    errors: tuple[type[BaseException], ...] = ()  # memory does not go down

    def __init__(self, clock=time.time):
        self._cells: dict[str, _Cell] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _cell(self, c: Counter) -> _Cell:
        cell = self._cells.get(c.key)
        if cell is None:
            cell = self._cells[c.key] = _Cell(expire_at=c.expire_at)
        return cell

    async def reserve(self, counters: list[Counter], member: str, ttl: int, cost: int) -> Verdict:
        with self._lock:
            now = int(self._clock())
            cells = [self._cell(c) for c in counters]
            blame = None
            for i, (c, cell) in enumerate(zip(counters, cells, strict=True)):
                cell.purge(now)
                used = cell.used_micro()
                if c.mode and used + cost > c.amount_micro:
                    candidate = (c.mode, max(c.amount_micro - used, 0), i)
                    blame = min(blame or candidate, candidate)  # refuse before downgrade, then least left
            if blame is not None:
                return Verdict(blame[0], blame[2], blame[1])
            for cell in cells:
                cell.reserved += cost
                cell.open[member] = (now + ttl, cost)
            return Verdict(ADMITTED)

    async def settle(self, items, member: str, reserved: int, actual_pico: int, minute: int) -> None:
        with self._lock:
            for c, flags in items:
                cell = self._cell(c)
                if flags & RELEASE and cell.open.pop(member, None) is not None:
                    cell.reserved -= reserved
                if flags & CHARGE and actual_pico:
                    cell.spent += actual_pico
                    cell.buckets[minute] = cell.buckets.get(minute, 0) + actual_pico

    def reconcile(self, c: Counter, cut_minute: int, before_cut_pico: int, recent: dict[int, int]) -> Reconciled:
        with self._lock:
            now = self._clock()
            self._forget_expired(now)
            cell = self._cells.get(c.key)
            fresh = cell is None
            if fresh:  # nothing settled here yet: the ledger's whole period, recent minutes as buckets
                cell, held = self._cell(c), 0
                cell.buckets = {m: v for m, v in recent.items() if v}
                target = before_cut_pico + sum(recent.values())
            else:
                cell.buckets = {m: v for m, v in cell.buckets.items() if m >= cut_minute}
                held, target = cell.spent - sum(cell.buckets.values()), before_cut_pico
            cell.spent += target - held
            lapsed = cell.purge(now)
            cell.reserved = sum(amount for _, amount in cell.open.values())
            return Reconciled(target - held, lapsed, cell.reserved, len(cell.open), fresh)

    def status(self, c: Counter) -> Status:
        with self._lock:
            cell = self._cells.get(c.key) or _Cell()
            return Status(cell.spent, cell.reserved, len(cell.open))

    def _forget_expired(self, now: float) -> None:
        gone = [k for k, cell in self._cells.items() if cell.expire_at and cell.expire_at <= now]
        for key in gone:
            del self._cells[key]


_process_counters: LocalCounters | None = None


def local_counters() -> LocalCounters:
    """The process's counters: one set shared by the data plane and the snapshot builder."""
    global _process_counters
    if _process_counters is None:
        _process_counters = LocalCounters()
    return _process_counters
