"""A percentile aggregate that runs in the database on PostgreSQL and on SQLite.

PostgreSQL has `percentile_cont`; SQLite (embedded mode) gets the same
function as a Python aggregate registered on each new connection, so both
modes share one code path and one definition: linear interpolation between
the two nearest ranks, which is also NumPy's and `statistics.quantiles`'
("inclusive") default.
"""
from __future__ import annotations

import math

from django.db.models import Aggregate, FloatField

SQLITE_FUNCTION = "sy_percentile_cont"


class Percentile(Aggregate):
    """percentile_cont(fraction) over the non-null values of `expression`."""

    function = "PERCENTILE_CONT"
    name = "Percentile"
    output_field = FloatField()
    template = "%(function)s(%(fraction)r) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be within [0, 1]")
        super().__init__(expression, fraction=float(fraction), **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        template = f"{SQLITE_FUNCTION}(%(expressions)s, %(fraction)r)"
        return self.as_sql(compiler, connection, template=template, **extra_context)


def interpolate(ordered: list[float], fraction: float) -> float | None:
    """The value at `fraction` of the sorted list, interpolating between neighbours."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class _SqlitePercentile:
    def __init__(self):
        self.values, self.fraction = [], 0.5

    def step(self, value, fraction):
        self.fraction = fraction
        if value is not None:
            self.values.append(value)

    def finalize(self):
        return interpolate(sorted(self.values), self.fraction)


def register_sqlite_functions(sender, connection, **kwargs):
    """`connection_created` receiver: give SQLite the aggregate PostgreSQL has built in."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate(SQLITE_FUNCTION, 2, _SqlitePercentile)
