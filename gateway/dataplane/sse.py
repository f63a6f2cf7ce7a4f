"""Incremental Server-Sent Events parser and encoders.

The parser follows the WHATWG event-stream rules (CRLF, CR or LF line endings,
multi-line `data`, comments, `event`/`id`/`retry` fields) and works on bytes fed
in arbitrary pieces, so an event split across network reads is reassembled.
It never raises anything but `SSEError`, which it raises only when one event
grows past `max_event_bytes`: an upstream that never sends a blank line must not
make us buffer without bound.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["SSEError", "SSEEvent", "SSEParser", "encode_comment", "encode_event", "encode_json"]

# Larger than MAX_BODY_BYTES (10 MiB): one legitimate event (e.g. an inline image
# in a Gemini chunk) always fits, a runaway stream does not.
DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"


class SSEError(Exception):
    """The event stream broke a limit (an event larger than allowed)."""


@dataclass(slots=True)
class SSEEvent:
    data: str
    event: str = "message"  # the spec's default type when no `event:` field was sent
    id: str | None = None
    retry: int | None = None


class SSEParser:
    """Feed bytes, get complete events. One instance per stream."""

    __slots__ = ("_buf", "_data", "_event", "_id", "_max", "_retry", "_size", "_skip_lf", "_started")

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._buf = b""  # the incomplete last line
        self._skip_lf = False  # the previous piece ended in CR: a leading LF belongs to it
        self._started = False
        self._max = max_event_bytes
        self._reset()

    def _reset(self) -> None:
        self._data: list[str] = []
        self._size = 0
        self._event = ""
        self._retry: int | None = None
        self._id: str | None = getattr(self, "_id", None)  # the spec keeps the last id across events

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buf = self._buf + chunk if self._buf else chunk
        if not self._started:
            if len(buf) < 3 and _BOM.startswith(buf):
                self._buf = buf  # too short to know whether it is a BOM yet
                return []
            self._started = True
            if buf.startswith(_BOM):
                buf = buf[3:]
        if b"\r" in buf:
            # A trailing CR ends a line now; if the next piece starts with LF it is the same line ending.
            self._skip_lf = buf.endswith(b"\r")
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        if len(self._buf) + self._size > self._max:
            raise SSEError(f"event larger than {self._max} bytes")
        events: list[SSEEvent] = []
        for line in lines:
            ev = self._line(line)
            if ev is not None:
                events.append(ev)
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream. Lenient on purpose: a last event without its blank line
        is still delivered, so a truncated upstream shows up as a parse error of
        its payload rather than as silently missing data."""
        events = []
        if self._buf:
            line, self._buf = self._buf, b""
            self._line(line)
        ev = self._line(b"")
        if ev is not None:
            events.append(ev)
        return events

    def _line(self, line: bytes) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line[0] == 0x3A:  # ":" starts a comment (keep-alives)
            return None
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._size += len(value) + 1
            if self._size > self._max:
                raise SSEError(f"event larger than {self._max} bytes")
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\x00" not in value:
                self._id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            # The spec drops an event that carried no data line.
            self._event, self._retry = "", None
            return None
        ev = SSEEvent("\n".join(self._data), self._event or "message", self._id, self._retry)
        self._reset()
        return ev


def encode_event(data: str | bytes, event: str | None = None, id: str | None = None) -> bytes:
    """One SSE event; data with line breaks becomes several `data:` lines."""
    raw = data.encode() if isinstance(data, str) else data
    if b"\n" in raw or b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\ndata: ")
    head = b""
    if event:
        head += b"event: " + event.encode() + b"\n"
    if id is not None:
        head += b"id: " + id.encode() + b"\n"
    return head + b"data: " + raw + b"\n\n"


def encode_json(obj: object, event: str | None = None) -> bytes:
    # ASCII output never contains raw line breaks, so no multi-line split is needed.
    body = json.dumps(obj, separators=(",", ":")).encode()
    if event:
        return b"event: " + event.encode() + b"\ndata: " + body + b"\n\n"
    return b"data: " + body + b"\n\n"


def encode_comment(text: str = "") -> bytes:
    """A comment line: clients ignore it, proxies see traffic (keep-alive)."""
    return b": " + text.replace("\n", " ").replace("\r", " ").encode() + b"\n\n"
