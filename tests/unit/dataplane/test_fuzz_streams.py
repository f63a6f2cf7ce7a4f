"""Hypothesis fuzzing of everything that reads untrusted bytes or JSON.

Upstream streams and bodies (random and mutated recordings from
tests/fuzz/corpus) may only raise ProviderError; client requests only
GatewayError. A SIGALRM guard turns a hang into a failure. Raise
SWITCHYARD_FUZZ_EXAMPLES for a deeper run than the default 300 per test.
"""
import json
import os
import signal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway.dataplane.adapters import ADAPTERS
from gateway.dataplane.adapters.anthropic_request import to_anthropic
from gateway.dataplane.adapters.body import patch_body
from gateway.dataplane.adapters.gemini_request import to_gemini
from gateway.dataplane.errors import GatewayError, ProviderError
from gateway.dataplane.formats.anthropic import to_canonical
from gateway.dataplane.formats.openai import validate_chat_request
from gateway.dataplane.sse import SSEError, SSEParser

from .support import corpus_files

FUZZ = settings(
    max_examples=int(os.environ.get("SWITCHYARD_FUZZ_EXAMPLES", "300")),
    deadline=None,  # the alarm below catches hangs; per-example timing is noise on shared CI
    database=None,  # no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HANG_SECONDS = 120  # a whole test, all examples; the normal run takes a few seconds

KEYS = ["type", "index", "delta", "content", "choices", "usage", "message", "content_block", "text", "partial_json",
        "tool_calls", "function", "arguments", "name", "id", "candidates", "parts", "functionCall", "args",
        "finishReason", "usageMetadata", "error", "stop_reason", "input_tokens", "prompt_tokens", "role", "model"]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(KEYS) | st.text(max_size=4), children, max_size=4),
    max_leaves=10,
)
NOISE = st.sampled_from([b"\n", b"\r", b"\r\n", b"\n\n", b":", b"data: ", b"event: error\n", b"{", b"}", b'"',
                         b"[DONE]", b"null", b"[]", b"\xff", b'{"type":"error"}', b"event: message_stop\n"])


@pytest.fixture(autouse=True)
def no_hang():
    def alarm(signum, frame):
        raise TimeoutError("fuzz target hung")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(HANG_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _replace(obj, path: list[int], value):
    """obj with the node reached by following `path` (indexes mod width) replaced."""
    if not path or not isinstance(obj, (dict, list)) or not obj:
        return value
    keys = list(obj) if isinstance(obj, dict) else list(range(len(obj)))
    key = keys[path[0] % len(keys)]
    copy = dict(obj) if isinstance(obj, dict) else list(obj)
    copy[key] = _replace(obj[key], path[1:], value)
    return copy


@st.composite
def mutated_stream(draw, provider: str) -> bytes:
    data = draw(st.sampled_from(corpus_files(provider))).read_bytes()
    lines = data.split(b"\n")
    for _ in range(draw(st.integers(0, 3))):  # structure-aware: swap a JSON node for a random value
        i = draw(st.integers(0, len(lines) - 1))
        if lines[i].startswith(b"data: {"):
            try:
                obj = json.loads(lines[i][6:])
            except ValueError:
                continue
            new = _replace(obj, draw(st.lists(st.integers(0, 20), max_size=4)), draw(JSON))
            lines[i] = b"data: " + json.dumps(new).encode()
    out = bytearray(b"\n".join(lines))
    for _ in range(draw(st.integers(0, 6))):  # byte-level: flip, delete, insert, duplicate, truncate
        if not out:
            break
        i = draw(st.integers(0, len(out) - 1))
        op = draw(st.sampled_from(["flip", "delete", "insert", "dup", "truncate"]))
        j = min(len(out), i + draw(st.integers(0, 40)))
        if op == "flip":
            out[i] = draw(st.integers(0, 255))
        elif op == "delete":
            del out[i:j]
        elif op == "insert":
            out[i:i] = draw(NOISE | st.binary(max_size=12))
        elif op == "dup":
            out[i:i] = out[i:j]
        else:
            del out[i:]
    return bytes(out)


def split(data: bytes, sizes: list[int]) -> list[bytes]:
    pieces, pos = [], 0
    for size in sizes:
        pieces.append(data[pos:pos + size])
        pos += size
    return pieces + [data[pos:]]


def run_parser(parser, pieces: list[bytes]) -> list[dict]:
    out = []
    for piece in pieces:
        out.extend(parser.feed(piece))
    out.extend(parser.close())
    assert all(isinstance(c, dict) for c in out)
    return out


SIZES = st.lists(st.integers(1, 64), max_size=12)


@FUZZ
@given(data=st.binary(max_size=600) | st.lists(NOISE, max_size=30).map(b"".join), sizes=SIZES)
def test_it_parses_random_sse_bytes_the_same_however_they_are_split(data, sizes):
    def events(pieces):
        parser = SSEParser(max_event_bytes=256)
        got = []
        try:
            for piece in pieces:
                got += parser.feed(piece)
            return got + parser.close(), None
        except SSEError as e:
            return got, e

    whole, whole_err = events([data])
    parts, parts_err = events(split(data, sizes))
    if whole_err is None and parts_err is None:
        assert parts == whole


@pytest.mark.parametrize(("kind", "provider"), [("openai", "openai"), ("anthropic", "anthropic"),
                                                ("gemini", "gemini")])
@FUZZ
@given(data=st.data(), sizes=SIZES)
def test_it_survives_mutated_recorded_streams(kind, provider, data, sizes):
    stream = data.draw(mutated_stream(provider))
    try:
        run_parser(ADAPTERS[kind].stream_parser(), split(stream, sizes))
    except ProviderError:
        pass
    tap = ADAPTERS[kind].usage_tap() if kind != "gemini" else None
    if tap is not None:  # the pass-through tap must never raise at all
        for piece in split(stream, sizes):
            tap.feed(piece)
        tap.close()


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
@FUZZ
@given(body=JSON.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=64), status=st.sampled_from([200, 429]))
def test_it_parses_random_response_bodies_into_dicts_or_provider_errors(kind, body, status):
    try:
        assert isinstance(ADAPTERS[kind].parse_response(status, body), dict)
    except ProviderError:
        pass


TEXTISH = st.text(max_size=12)
PART = st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "file", "refusal", "audio"])}, optional={
    "text": TEXTISH | JSON, "image_url": st.fixed_dictionaries({"url": st.sampled_from(
        ["data:image/png;base64,AAAA", "https://x.test/a.png", "data:text/plain,hi", ""])}) | JSON,
    "file": st.fixed_dictionaries({}, optional={"file_data": st.sampled_from(["data:application/pdf;base64,AA", "x"])}),
})
CALL = st.fixed_dictionaries({"id": TEXTISH, "type": st.just("function"), "function": st.fixed_dictionaries(
    {"name": TEXTISH, "arguments": st.sampled_from(["{}", '{"a": 1}', "[1]", "oops", ""])})})
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["system", "developer", "user", "assistant", "tool", "bot"])},
                                optional={"content": st.none() | TEXTISH | st.lists(PART, max_size=3) | JSON,
                                          "tool_calls": st.lists(CALL, max_size=2) | JSON, "tool_call_id": TEXTISH})
TOOL = st.fixed_dictionaries({"type": st.sampled_from(["function", "code_interpreter"]), "function": st.fixed_dictionaries(
    {"name": TEXTISH}, optional={"parameters": JSON, "description": TEXTISH})})
CHAT = st.fixed_dictionaries({"model": st.just("m"), "messages": st.lists(MESSAGE, min_size=1, max_size=5)}, optional={
    "tools": st.lists(TOOL, max_size=2), "tool_choice": st.sampled_from(["auto", "none", "required"]) | JSON,
    "n": st.integers(0, 3), "stop": TEXTISH | st.lists(TEXTISH, max_size=2), "temperature": st.floats(0, 2),
    "max_tokens": st.integers(1, 10), "parallel_tool_calls": st.booleans(), "user": TEXTISH,
    "response_format": JSON})


@FUZZ
@given(request=CHAT)
def test_it_translates_any_valid_chat_request_or_answers_400(request):
    try:
        validate_chat_request(request)
    except GatewayError as e:
        assert e.status == 400
        return
    for translate in (lambda r: to_anthropic(r, "claude"), to_gemini):
        try:
            json.dumps(translate(request))
        except GatewayError as e:
            assert e.status == 400


BLOCK = st.fixed_dictionaries({"type": st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking",
                                                        "document", "server_tool_use"])}, optional={
    "text": TEXTISH | JSON, "id": TEXTISH, "name": TEXTISH, "input": JSON, "tool_use_id": TEXTISH | JSON,
    "content": TEXTISH | st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "image"]),
                                                          "text": TEXTISH}), max_size=2) | JSON,
    "source": st.fixed_dictionaries({"type": st.sampled_from(["base64", "url", "text", "file"])}, optional={
        "media_type": TEXTISH, "data": TEXTISH, "url": TEXTISH}) | JSON})
ANTHROPIC = st.fixed_dictionaries({
    "model": st.just("claude"), "max_tokens": st.integers(0, 5) | JSON,
    "messages": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system"]),
                                                "content": TEXTISH | st.lists(BLOCK, max_size=3) | JSON}),
                         max_size=4)}, optional={
    "system": TEXTISH | st.lists(BLOCK, max_size=2) | JSON, "tools": JSON, "tool_choice": JSON,
    "stop_sequences": JSON, "temperature": JSON, "metadata": JSON, "stream": st.booleans()})


@FUZZ
@given(request=ANTHROPIC)
def test_it_converts_any_anthropic_request_to_a_valid_canonical_one_or_answers_400(request):
    try:
        canonical = to_canonical(request)
    except GatewayError as e:
        assert e.status == 400
        return
    assert validate_chat_request(canonical) is canonical
    json.dumps(to_anthropic(canonical, "claude"))


USAGE = {"include_usage": True}


@FUZZ
@given(obj=st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), JSON, max_size=5), ascii=st.booleans(),
       indent=st.sampled_from([None, 0, 2]), model=st.text(max_size=8))
def test_it_patches_any_json_object_exactly(obj, ascii, indent, model):
    try:
        raw = json.dumps(obj, ensure_ascii=ascii, indent=indent).encode()
    except UnicodeEncodeError:
        assume(False)  # a lone surrogate cannot be sent as UTF-8 at all
    out = patch_body(raw, {"model": model} if model else None, {"stream_options": USAGE})
    expected = {**obj, "model": model} if model else dict(obj)
    expected.setdefault("stream_options", USAGE)
    assert json.loads(out) == expected


@FUZZ
@given(raw=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()) | st.lists(
    NOISE | st.sampled_from([b'"model"', b"\\u006d", b",", b" "]), max_size=20).map(b"".join))
def test_it_patches_random_bodies_into_valid_json_or_answers_400(raw):
    try:
        out = patch_body(raw, {"model": "target"})
    except GatewayError as e:
        assert e.status == 400
        return
    pairs = json.loads(out, object_pairs_hook=list)
    assert [value for key, value in pairs if key == "model"] == ["target"]
