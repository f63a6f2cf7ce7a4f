"""Relaying an upstream stream to the client, chunk by chunk, as it arrives.

Three shapes: pass-through (ingress speaks the upstream's wire format: events
are forwarded as they are, re-framed only), translated (upstream events ->
canonical chunks -> the ingress format), and local (the mock adapter yields
canonical chunks). Each records usage and what was delivered, so a stream cut
short is still billed for what the client received.
"""
from __future__ import annotations

import json

from gateway.dataplane import respond
from gateway.dataplane.canonical import client_wants_usage, is_usage_chunk, usage_from_dict
from gateway.dataplane.formats.anthropic_stream import AnthropicEventEncoder
from gateway.dataplane.formats.openai import DONE, encode_chunk
from gateway.dataplane.sse import SSEParser, encode_event


class ChunkWriter:
    """Canonical chunks out in the ingress format; remembers usage and delivered text."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.delivered: list[str] = []
        self.anthropic = AnthropicEventEncoder(ctx.body.get("model", "")) if ctx.ingress == "anthropic" else None
        self.wants_usage = ctx.ingress == "anthropic" or client_wants_usage(ctx.canonical)

    async def write(self, chunk: dict):
        capture = self.ctx.state.get("capture")
        if capture is not None:
            capture.chunk(chunk)  # before encoding, which may consume the dict
        if chunk.get("usage"):
            self.ctx.usage = usage_from_dict(chunk["usage"])
        for choice in chunk.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                self.delivered.append(content)
        if self.anthropic is not None:
            data = self.anthropic.feed(chunk)
        elif is_usage_chunk(chunk) and not self.wants_usage:
            return  # asked for by us, not by the client: OpenAI would not send it
        else:
            data = encode_chunk(chunk)
        await _send(self.ctx, data)

    async def close(self):
        tail = self.anthropic.close() if self.anthropic is not None else DONE
        await _send(self.ctx, tail)
        await respond.end_stream(self.ctx)

    def delivered_text(self) -> str:
        return "".join(self.delivered)


async def _send(ctx, data: bytes):
    if not data:
        return
    if not ctx.response_started:
        await respond.start_stream(ctx)  # only now: retries stay possible until the first byte
    await respond.send_chunk(ctx, data)


async def relay_local(ctx, chunks):
    writer = ChunkWriter(ctx)
    ctx.relay = writer
    async for chunk in chunks:
        await writer.write(chunk)
    await writer.close()


async def relay_translated(ctx, body, parser):
    writer = ChunkWriter(ctx)
    ctx.relay = writer
    async for data in body:
        for chunk in parser.feed(data):
            await writer.write(chunk)
    for chunk in parser.close():
        await writer.write(chunk)
    await writer.close()


class PassthroughRelay:
    """Same wire format both sides: forward each SSE event as sent, watch for usage."""

    def __init__(self, ctx, adapter):
        self.ctx = ctx
        self.tap = adapter.usage_tap()
        self.sse = SSEParser()
        self.forwarded: list[str] = []  # raw data lines, parsed only if the stream is cut short
        self.drop_usage = ctx.ingress == "openai" and not client_wants_usage(ctx.canonical)

    async def run(self, body):
        self.ctx.relay = self
        async for data in body:
            out = [self._frame(ev) for ev in self.sse.feed(data)]
            await _send(self.ctx, b"".join(o for o in out if o))
        out = [self._frame(ev) for ev in self.sse.close()]
        await _send(self.ctx, b"".join(o for o in out if o))
        self.ctx.usage = self.tap.usage or self.ctx.usage
        await respond.end_stream(self.ctx)

    def _frame(self, ev) -> bytes:
        self.tap.on_event(ev)
        capture = self.ctx.state.get("capture")
        if capture is not None:
            capture.event(self.ctx.ingress, ev)  # the wire event as the upstream sent it
        if self.drop_usage and '"prompt_tokens"' in ev.data and _usage_only(ev.data):
            return b""
        self.forwarded.append(ev.data)
        return encode_event(ev.data, ev.event if ev.event != "message" else None)

    def delivered_text(self) -> str:
        text = []
        for data in self.forwarded:
            try:
                obj = json.loads(data)
            except ValueError:
                continue
            for choice in obj.get("choices") or ():  # OpenAI chunks
                text.append((choice.get("delta") or {}).get("content") or "")
            delta = obj.get("delta") if obj.get("type") == "content_block_delta" else None
            if isinstance(delta, dict):  # Anthropic text deltas
                text.append(delta.get("text") or "")
        return "".join(text)


def _usage_only(data: str) -> bool:
    try:
        obj = json.loads(data)
    except ValueError:
        return False
    return isinstance(obj, dict) and not obj.get("choices") and obj.get("usage") is not None
