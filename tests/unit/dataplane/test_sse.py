import pytest

from gateway.dataplane.sse import SSEError, SSEParser, encode_comment, encode_event, encode_json

STREAM = b'event: greeting\ndata: {"a": 1}\n\n: keep-alive\n\ndata: line one\ndata: line two\n\ndata: [DONE]\n\n'


def parse(data: bytes, step: int | None = None, **kwargs) -> list:
    parser = SSEParser(**kwargs)
    events = []
    step = step or len(data) or 1
    for i in range(0, len(data), step):
        events.extend(parser.feed(data[i:i + step]))
    return events + parser.close()


def simple(events) -> list[tuple[str, str]]:
    return [(e.event, e.data) for e in events]


EXPECTED = [("greeting", '{"a": 1}'), ("message", "line one\nline two"), ("message", "[DONE]")]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_it_parses_lf_crlf_and_cr_line_endings_alike(newline):
    assert simple(parse(STREAM.replace(b"\n", newline))) == EXPECTED


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_it_reassembles_events_split_at_every_byte_offset(newline):
    data = STREAM.replace(b"\n", newline)
    for cut in range(len(data) + 1):
        parser = SSEParser()
        events = parser.feed(data[:cut]) + parser.feed(data[cut:]) + parser.close()
        assert simple(events) == EXPECTED, cut


def test_it_reassembles_events_fed_one_byte_at_a_time():
    assert simple(parse(STREAM.replace(b"\n", b"\r\n"), step=1)) == EXPECTED


def test_it_treats_a_crlf_split_across_reads_as_one_line_ending():
    parser = SSEParser()
    events = parser.feed(b"data: a\r") + parser.feed(b"\ndata: b\r") + parser.feed(b"\n\r\n")
    assert simple(events) == [("message", "a\nb")]


def test_it_skips_comments_and_unknown_fields():
    events = parse(b": hello\nfoo: bar\ndata: x\nnonsense\n\n")
    assert simple(events) == [("message", "x")]


def test_it_reads_ids_and_retry_and_keeps_the_last_id():
    events = parse(b"id: 7\nretry: 1500\ndata: a\n\ndata: b\n\nretry: soon\nid: bad\x00id\ndata: c\n\n")
    assert [(e.id, e.retry) for e in events] == [("7", 1500), ("7", None), ("7", None)]


def test_it_drops_events_without_data_lines():
    assert parse(b"event: ping\n\nid: 1\n\n") == []


def test_it_keeps_an_empty_data_field_as_an_event():
    assert simple(parse(b"data:\n\n")) == [("message", "")]


def test_it_strips_only_one_space_after_the_colon():
    assert simple(parse(b"data:no-space\n\ndata:  two\n\n")) == [("message", "no-space"), ("message", " two")]


def test_it_delivers_a_last_event_without_trailing_newline_on_close():
    parser = SSEParser()
    assert parser.feed(b"data: first\n\ndata: last") == [simple_event("first")]
    assert simple(parser.close()) == [("message", "last")]


def simple_event(data):
    from gateway.dataplane.sse import SSEEvent

    return SSEEvent(data)


def test_it_strips_a_leading_byte_order_mark_even_when_split():
    data = b"\xef\xbb\xbfdata: x\n\n"
    for cut in range(4):
        parser = SSEParser()
        assert simple(parser.feed(data[:cut]) + parser.feed(data[cut:])) == [("message", "x")]


def test_it_replaces_invalid_utf8_instead_of_raising():
    assert simple(parse(b"data: \xff\xfe ok\n\n")) == [("message", "\ufffd\ufffd ok")]


def test_it_raises_a_typed_error_on_an_oversize_line_without_newline():
    parser = SSEParser(max_event_bytes=64)
    parser.feed(b"data: " + b"x" * 40)
    with pytest.raises(SSEError):
        parser.feed(b"y" * 40)


def test_it_raises_a_typed_error_on_an_oversize_multi_line_event():
    with pytest.raises(SSEError):
        parse(b"data: 0123456789\n" * 10, max_event_bytes=64)


def test_it_accepts_many_small_events_past_the_size_limit():
    assert len(parse(b"data: 0123456789\n\n" * 100, max_event_bytes=64)) == 100


def test_it_returns_nothing_for_empty_input():
    parser = SSEParser()
    assert parser.feed(b"") == [] and parser.close() == []


def test_it_encodes_events_that_parse_back():
    raw = encode_event("a\nb\r\nc", event="update", id="9") + encode_json({"k": "v\n"}) + encode_json({}, event="ping")
    events = parse(raw)
    assert [(e.event, e.data, e.id) for e in events] == [
        ("update", "a\nb\nc", "9"),
        ("message", '{"k":"v\\n"}', "9"),
        ("ping", "{}", "9"),
    ]


def test_it_encodes_comments_that_parsers_ignore():
    assert encode_comment("keep\nalive") == b": keep alive\n\n"
    assert parse(encode_comment("x") + b"data: y\n\n")[0].data == "y"
