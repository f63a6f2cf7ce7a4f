"""Scenario specs: which fault (and which content knobs) a fake applies to one request.

A spec is a string of ``+``-joined items, each ``name`` or ``name:<arg>``::

    "ok"                       plain success (the default)
    "status:503+retry_after:2" an error response with a Retry-After header
    "latency:200+stream_pace:50"

It can be chosen per request (header ``x-fake-scenario``, or a model name suffix
``gpt-4o~status:503``), per server (``set_scenario``) or for the next N requests
(``queue_scenarios``). See tests/fakes/README.md for what each item does.
"""
from __future__ import annotations

from dataclasses import dataclass

# name -> (field, default when the item is given without an argument).
# ``None`` as default means the argument is mandatory.
_ITEMS: dict[str, tuple[str, int | None]] = {
    "status": ("status", None),
    "retry_after": ("retry_after", None),
    "latency": ("latency_ms", None),
    "stream_pace": ("stream_pace_ms", None),
    "reset_mid_body": ("reset_after_bytes", -1),  # -1: half of the body
    "stall_after_chunks": ("stall_after_chunks", None),
    "split_events": ("split_bytes", 5),
    "oversize_event": ("oversize_bytes", 1024 * 1024),
    "slow_drip": ("drip_ms", 2),
    "fail_after_chunks": ("fail_after_chunks", None),
    "tool_calls": ("tool_calls", None),
    "chunks": ("chunks", None),
    "cached": ("cached", None),
    "cache_write": ("cache_write", None),
    "reasoning": ("reasoning", None),
}
_FLAGS = {"hang", "no_first_byte", "malformed_json", "no_done", "crlf"}

# The header a test (or a client passing headers through the gateway) can set.
SCENARIO_HEADER = "x-fake-scenario"
# Separator between a model name and its scenario: "gpt-4o~status:429".
MODEL_SEPARATOR = "~"


@dataclass(frozen=True)
class Scenario:
    spec: str = "ok"
    status: int | None = None
    retry_after: int | None = None
    latency_ms: int = 0
    stream_pace_ms: int = 0
    reset_after_bytes: int | None = None
    stall_after_chunks: int | None = None
    split_bytes: int | None = None
    oversize_bytes: int | None = None
    drip_ms: int | None = None
    fail_after_chunks: int | None = None
    tool_calls: int | None = None
    chunks: int | None = None
    cached: int = 0
    cache_write: int = 0
    reasoning: int = 0
    hang: bool = False
    no_first_byte: bool = False
    malformed_json: bool = False
    no_done: bool = False
    crlf: bool = False


OK = Scenario()


def parse(spec: str | None) -> Scenario:
    """Parse a spec; raises ValueError naming the bad item so a typo fails loudly."""
    if not spec or spec.strip() == "ok":
        return OK
    values: dict[str, object] = {"spec": spec.strip()}
    for item in spec.strip().split("+"):
        name, _, arg = item.strip().partition(":")
        if name == "ok":
            continue
        if name in _FLAGS:
            values[name] = True
        elif name == "rate_limited":  # shorthand: 429 with Retry-After (seconds, default 1)
            values["status"] = 429
            values["retry_after"] = _int(item, arg or "1")
        elif name in _ITEMS:
            field, default = _ITEMS[name]
            if not arg and default is None:
                raise ValueError(f"fake scenario item {item!r} needs an argument")
            values[field] = _int(item, arg) if arg else default
        else:
            raise ValueError(f"unknown fake scenario item {item!r} in {spec!r}")
    return Scenario(**values)  # type: ignore[arg-type]


def _int(item: str, arg: str) -> int:
    try:
        return int(arg)
    except ValueError:
        raise ValueError(f"fake scenario item {item!r}: {arg!r} is not an integer") from None


def split_model(model: str | None) -> tuple[str | None, str | None]:
    """'gpt-4o~status:429' -> ('gpt-4o', 'status:429'); plain names have no scenario."""
    if not model or MODEL_SEPARATOR not in model:
        return model, None
    name, _, spec = model.partition(MODEL_SEPARATOR)
    return name, spec
