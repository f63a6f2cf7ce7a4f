"""Edit top-level fields of a JSON request body without re-serializing it.

Pass-through forwards the client's bytes; only `model` (and, for OpenAI streams,
a missing `stream_options`) change. Top-level keys are found by walking the
object with CPython's C JSON scanner, which skips each value at `json.loads`
speed, and compares *decoded* key names. So a duplicate or `\\u`-escaped `model`
key is seen too: the body is then re-serialized with the last value winning,
as `json.loads` (and thus routing) read it. Splicing only the first key would
let a client route on one model and have the upstream read another.
"""
from __future__ import annotations

import json
import re

from ..errors import GatewayError

__all__ = ["insert_field", "patch_body", "replace_model"]

_DECODER = json.JSONDecoder()
_scan = _DECODER.scan_once  # the C scanner: (value, end) for the JSON value starting at an index
_WS = re.compile(r"[ \t\n\r]*")
_PARSE_ERRORS = (ValueError, StopIteration, RecursionError, IndexError)


def _invalid() -> GatewayError:
    return GatewayError(400, "invalid_json", "request body must be a JSON object")


def _skip(text: str, i: int) -> int:
    return _WS.match(text, i).end()


def top_level_spans(text: str) -> tuple[int, dict[str, list[tuple[int, int]]]]:
    """(index just after the opening brace, decoded key -> [(value start, value end)])."""
    i = _skip(text, 0)
    if text[i:i + 1] != "{":
        raise ValueError("not an object")
    opening = i + 1
    spans: dict[str, list[tuple[int, int]]] = {}
    i = _skip(text, opening)
    if text[i:i + 1] == "}":
        return opening, _only_whitespace_after(text, i, spans)
    while True:
        if text[i:i + 1] != '"':
            raise ValueError("expected a key")
        key, i = _scan(text, i)
        i = _skip(text, i)
        if text[i:i + 1] != ":":
            raise ValueError("expected a colon")
        start = _skip(text, i + 1)
        _, end = _scan(text, start)
        spans.setdefault(key, []).append((start, end))
        i = _skip(text, end)
        if text[i:i + 1] == "}":
            return opening, _only_whitespace_after(text, i, spans)
        if text[i:i + 1] != ",":
            raise ValueError("expected a comma")
        i = _skip(text, i + 1)


def _only_whitespace_after(text: str, brace: int, spans: dict) -> dict:
    if _skip(text, brace + 1) != len(text):
        raise ValueError("trailing data after the object")
    return spans


def _reserialize(text: str, replace: dict, add: dict) -> bytes:
    obj = json.loads(text)
    obj.update(replace)
    for key, value in add.items():
        obj.setdefault(key, value)
    return json.dumps(obj, separators=(",", ":")).encode()


def patch_body(raw: bytes, replace: dict | None = None, add: dict | None = None) -> bytes:
    """`raw` with top-level keys in `replace` set (added if absent) and keys in
    `add` added only if absent. Unchanged bodies are returned as is, uncopied."""
    replace, add = replace or {}, add or {}
    try:
        text = raw.decode("utf-8")
        opening, spans = top_level_spans(text)
    except (UnicodeDecodeError, *_PARSE_ERRORS):
        raise _invalid() from None
    if any(len(spans.get(key, ())) > 1 for key in replace):
        return _reserialize(text, replace, add)
    edits = [(*spans[key][0], json.dumps(value)) for key, value in replace.items() if key in spans]
    inserts = [(k, v) for k, v in replace.items() if k not in spans] + [(k, v) for k, v in add.items() if k not in spans]
    if inserts:
        fields = ",".join(json.dumps(k) + ":" + json.dumps(v, separators=(",", ":")) for k, v in inserts)
        edits.append((opening, opening, fields + ("," if spans else "")))
    if not edits:
        return raw
    # Right to left, so earlier offsets stay valid. ASCII bodies (what most SDKs send)
    # are spliced as bytes; otherwise str offsets differ from byte offsets.
    out: bytes | str = raw if raw.isascii() else text
    for start, end, value in sorted(edits, reverse=True):
        out = out[:start] + (value.encode() if isinstance(out, bytes) else value) + out[end:]
    return out if isinstance(out, bytes) else out.encode()


def replace_model(raw: bytes, model: str) -> bytes:
    """The body with only the top-level `model` value changed (or added)."""
    return patch_body(raw, {"model": model}) if model else raw


def insert_field(raw: bytes, key: str, value: object) -> bytes:
    """Add a top-level field unless the body already has it."""
    return patch_body(raw, add={key: value})
