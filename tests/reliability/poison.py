"""Hostile values for every client-controlled field of the OpenAI and Anthropic ingress (B8, issue 14).

A value is raw JSON text (bytes), so the table can hold what no serializer writes: deep nesting,
non-UTF-8 bytes, out-of-range numbers, NaN. A request is a valid body with one field replaced.
"""
from __future__ import annotations

import json

SENTINEL = "__poison__"
OVERSIZE = 1_000_000  # characters: well under MAX_BODY_BYTES (10 MB), far over any real field
DEEP = 100_000  # nesting levels; parsers with a recursion limit must refuse, not crash

VALUES: dict[str, bytes] = {
    "oversize string": json.dumps("A" * OVERSIZE).encode(),
    "NUL": b'"a\\u0000b"',
    "lone surrogate": b'"\\ud800"',
    "non-UTF-8": b'"\xff\xfe"',
    "control chars": b'"\\u0001\\u001b[31m\\r\\n"',
    "deep nesting": b"[" * DEEP + b"]" * DEEP,
    "2^64": str(2**64).encode(),
    "10^30": str(10**30).encode(),
    "negative": b"-1",
    "float overflow": b"1e400",
    "NaN": b"NaN",
    "object": b'{"$gt": ""}',
    "array": b'[1, "two", null]',
    "null": b"null",
    "true": b"true",
    "empty string": b'""',
}

USER = {"role": "user", "content": "hello there"}
OPENAI_CHAT = {"model": "gpt", "messages": [USER]}
OPENAI_EMBED = {"model": "embed", "input": "steady"}
ANTHROPIC = {"model": "claude", "max_tokens": 32, "messages": [USER]}

# (ingress, endpoint path, base body, field paths); a path is a tuple of keys and list indexes.
SURFACES = (
    ("openai", "/v1/chat/completions", OPENAI_CHAT, [
        ("model",), ("messages",), ("messages", 0), ("messages", 0, "role"), ("messages", 0, "content"),
        ("messages", 0, "name"), ("temperature",), ("top_p",), ("max_tokens",), ("max_completion_tokens",),
        ("n",), ("stop",), ("stream",), ("stream_options",), ("user",), ("tools",), ("tool_choice",),
        ("response_format",), ("seed",), ("logit_bias",), ("metadata",), ("presence_penalty",)]),
    ("openai", "/v1/embeddings", OPENAI_EMBED, [("model",), ("input",), ("dimensions",), ("encoding_format",),
                                                ("user",)]),
    ("anthropic", "/anthropic/v1/messages", ANTHROPIC, [
        ("model",), ("max_tokens",), ("messages",), ("messages", 0, "role"), ("messages", 0, "content"),
        ("system",), ("stop_sequences",), ("temperature",), ("top_k",), ("top_p",), ("metadata",),
        ("metadata", "user_id"), ("tools",), ("tool_choice",), ("stream",)]),
)

# Whole bodies that are not a JSON object at all.
BODIES: dict[str, bytes] = {
    "empty body": b"",
    "not JSON": b"{model: gpt",
    "JSON array": b"[]",
    "JSON string": b'"hello"',
    "deep nesting": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "non-UTF-8": b'{"model": "gpt\xff", "messages": []}',
    "trailing garbage": b'{"model": "gpt", "messages": []} trailing',
}

LONG_HEADER = "z" * 7000  # under uvicorn's header limit, far over any real value
# Header values a client controls (h11, the test client, refuses NUL, CR and LF itself).
HEADERS: dict[str, dict[str, bytes]] = {
    "x-request-id long": {"x-request-id": LONG_HEADER.encode()},
    "x-request-id latin-1": {"x-request-id": b"id-\xff\xe9"},
    "x-request-id spaces": {"x-request-id": b"a b\tc"},
    "x-request-id empty": {"x-request-id": b""},
    "cache-control long": {"cache-control": LONG_HEADER.encode()},
    "cache-control latin-1": {"cache-control": b"no-cache=\xff"},
    "anthropic-version junk": {"anthropic-version": b"\xff" * 50},
    "anthropic-beta long": {"anthropic-beta": b",".join([b"x"] * 2000)},
    "content-type junk": {"content-type": b"text/\xff; charset=ebcdic"},
}


def _placed(body, path):
    """`body` with the value at `path` replaced by the sentinel string (lists and dicts copied on the way)."""
    if not path:
        return SENTINEL
    head, rest = path[0], path[1:]
    copy = list(body) if isinstance(body, list) else dict(body)
    copy[head] = _placed(body[head] if isinstance(body, list) or head in body else {}, rest)
    return copy


def poisoned(base: dict, path: tuple, value: bytes) -> bytes:
    return json.dumps(_placed(base, path)).encode().replace(f'"{SENTINEL}"'.encode(), value, 1)


def field_cases():
    """(ingress, path, case name, raw body): every field of every surface with every value."""
    for ingress, url, base, paths in SURFACES:
        for path in paths:
            for name, value in VALUES.items():
                yield ingress, url, f"{url} {'.'.join(map(str, path))} = {name}", poisoned(base, path, value)
