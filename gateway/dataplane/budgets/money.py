"""Exact money units for budget counters: integers, never floats.

Redis runs Lua with double-precision numbers, exact for integers below 2**53.
A spend is therefore kept as two integers: whole micro-dollars (exact up to
$9 billion) plus the pico-dollar rest (0..999,999), which together hold the
ledger's 12 decimal places exactly. Reservations are estimates, so they are
whole micro-dollars, rounded up.
"""
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

PICO_PER_MICRO = 1_000_000
PICO_PER_USD = 10**12
# The ledger's cost column has 12 decimal places; PostgreSQL rounds half away from zero.
LEDGER_QUANTUM = Decimal("1e-12")


def to_pico(usd: Decimal) -> int:
    """A cost in pico-dollars, rounded exactly as the ledger column stores it."""
    return int(usd.quantize(LEDGER_QUANTUM, rounding=ROUND_HALF_UP).scaleb(12))


def ceil_micro(usd: Decimal) -> int:
    """A worst-case estimate in whole micro-dollars, never below the true figure."""
    return int(usd.scaleb(6).to_integral_value(rounding=ROUND_CEILING))


def split(pico: int) -> tuple[int, int]:
    """(micro-dollars, pico rest in 0..999,999); floors, so a negative drift keeps a positive rest."""
    return divmod(pico, PICO_PER_MICRO)


def join(micro: int, rest: int) -> int:
    return micro * PICO_PER_MICRO + rest


def pico_to_usd(pico: int) -> Decimal:
    return Decimal(pico).scaleb(-12)


def micro_to_usd(micro: int) -> Decimal:
    return Decimal(micro).scaleb(-6)


def usd_text(micro: int) -> str:
    """'$100.00', '$0.42', '$0.004939': cents when exact, else every micro-dollar digit."""
    value = micro_to_usd(micro)
    if micro % 10_000 == 0:
        return f"${value:,.2f}"
    return f"${value:,.6f}".rstrip("0")
