"""Writes a Reply to the socket, applying the transport-level faults of a Scenario."""
from __future__ import annotations

import asyncio
import json
from dataclasses import replace

from aiohttp import web

from tests.fakes.base import Event, RecordedRequest, Reply, Wire
from tests.fakes.scenarios import Scenario


def encode(event: Event, newline: str = "\n") -> bytes:
    data = event.data if isinstance(event.data, str) else json.dumps(event.data, separators=(",", ":"))
    lines = ([f"event: {event.event}"] if event.event else []) + [f"data: {data}"]
    return (newline.join(lines) + newline + newline).encode()


def shape_events(events: list[Event], sc: Scenario, wire: Wire) -> list[Event]:
    """Apply the faults that change which events are sent (not how they are written)."""
    if sc.no_done:
        events = [e for e in events if not e.terminal]
    first = next((i for i, e in enumerate(events) if e.content), None)
    if first is not None and sc.oversize_bytes:
        # Padding in an extra field keeps the event valid JSON and the reply text unchanged.
        events[first] = replace(events[first], data={**events[first].data, "x_fake_padding": "x" * sc.oversize_bytes})
    if first is not None and sc.malformed_json:
        # A torn JSON object, as a buggy proxy truncating a line would produce.
        text = json.dumps(events[first].data)
        events[first] = replace(events[first], data=text[: len(text) // 2])
    if sc.fail_after_chunks is not None:
        events = events[: sc.fail_after_chunks] + [wire.stream_error()]
    return events


async def forever() -> None:
    """Block until cancelled (client disconnect or server stop)."""
    await asyncio.Event().wait()


async def send(request: web.Request, reply: Reply, sc: Scenario, wire: Wire, progress: RecordedRequest) -> web.StreamResponse:
    if sc.latency_ms:
        await asyncio.sleep(sc.latency_ms / 1000)
    if sc.hang:
        await forever()
    if reply.events is not None:
        newline = "\r\n" if sc.crlf or wire.crlf else "\n"
        pieces = [encode(e, newline) for e in shape_events(list(reply.events), sc, wire)]
        headers = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    else:
        pieces = [json.dumps(reply.body).encode()]
        headers = {"Content-Type": "application/json"}
    resp = web.StreamResponse(status=reply.status, headers={**headers, **reply.headers})
    if reply.events is None:
        resp.content_length = len(pieces[0])  # so a cut body is detectably short
    try:
        await resp.prepare(request)  # StreamResponse sends the status line and headers now
        if sc.no_first_byte:
            await forever()
        if await _write_pieces(request, resp, pieces, sc, progress):
            await resp.write_eof()
            progress.outcome = "completed"
    except ConnectionError:  # a write hit a socket the client already closed
        progress.outcome = "client_disconnected"
    return resp


async def _write_pieces(request, resp, pieces: list[bytes], sc: Scenario, progress: RecordedRequest) -> bool:
    """Write all pieces; False if the connection was deliberately cut (reset_mid_body)."""
    budget = sc.reset_after_bytes
    if budget == -1:
        budget = sum(map(len, pieces)) // 2
    for i, piece in enumerate(pieces):
        if sc.stall_after_chunks == i:
            await forever()
        if i and sc.stream_pace_ms:
            await asyncio.sleep(sc.stream_pace_ms / 1000)
        if budget is not None and budget < len(piece):
            await _write(resp, piece[:budget], sc, progress)
            progress.outcome = "reset"  # before the cut: the client may look as soon as it errors
            await _cut(request)
            return False
        if budget is not None:
            budget -= len(piece)
        await _write(resp, piece, sc, progress)
        progress.chunks_sent += 1
    return True


async def _write(resp: web.StreamResponse, data: bytes, sc: Scenario, progress: RecordedRequest) -> None:
    step = 1 if sc.drip_ms else sc.split_bytes or len(data)
    pause = (sc.drip_ms or 1) / 1000  # lets each fragment leave as its own TCP segment
    for offset in range(0, len(data), max(step, 1)):
        if offset:
            await asyncio.sleep(pause)
        fragment = data[offset : offset + step]
        await resp.write(fragment)
        progress.bytes_sent += len(fragment)


async def _cut(request: web.Request) -> None:
    transport = request.transport
    if transport is None:
        return
    # abort() discards unsent buffer: wait until the bytes already written are out.
    for _ in range(200):
        if transport.get_write_buffer_size() == 0:
            break
        await asyncio.sleep(0.005)
    transport.abort()
