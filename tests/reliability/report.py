"""The reliability report: one row per check, printed as a table at the end of the run.

Tests record rows through the `reliability_report` fixture; a row's pass column is the
test's own outcome unless the test judged that row itself (`ok=`), as table-driven tests do.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

COLUMNS = ("check", "sent", "served", "errors by status", "ledger rows", "lost", "duplicated", "figure", "pass")


@dataclass
class Row:
    check: str
    nodeid: str
    sent: int | None = None
    served: int | None = None
    errors: Counter = field(default_factory=Counter)
    ledger_rows: int | None = None
    lost: int | None = None
    duplicated: int | None = None
    figure: str = ""
    ok: bool | None = None  # the test's verdict on this row; None: the test's outcome decides

    def cells(self, outcome: str) -> tuple[str, ...]:
        verdict = outcome if self.ok is None else ("pass" if self.ok and outcome != "error" else "FAIL")
        errors = ", ".join(f"{status}: {n}" for status, n in sorted(self.errors.items(), key=str)) or "-"
        numbers = (self.sent, self.served, errors, self.ledger_rows, self.lost, self.duplicated)
        return (self.check, *("-" if v is None else str(v) for v in numbers), self.figure or "-", verdict)


class Report:
    def __init__(self, scale_name: str):
        self.scale_name = scale_name
        self.rows: list[Row] = []
        self.outcomes: dict[str, str] = {}  # nodeid -> pass | FAIL | error

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def markdown(self) -> str:
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for row in self.rows:
            cells = row.cells(self.outcomes.get(row.nodeid, "FAIL"))
            lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        return "\n".join(lines)


class Recorder:
    """What a test sees: `record(...)` adds a row for this test."""

    def __init__(self, report: Report, nodeid: str):
        self.report, self.nodeid = report, nodeid

    def record(self, check: str, errors=None, **values) -> Row:
        return self.report.add(Row(check=check, nodeid=self.nodeid, errors=Counter(errors or {}), **values))
