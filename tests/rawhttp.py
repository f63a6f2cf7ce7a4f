"""HTTP/1.1 over plain sockets, for tests that need what an HTTP client library hides:
thousands of keep-alive requests at little client CPU, half-sent requests, and the moment
the server closes a connection. Loopback only."""
from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path


def request_bytes(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)  # the CRLF after each chunk
    await reader.readuntil(b"\r\n")  # no trailers: the empty line after the last chunk
    return b"".join(chunks)


async def read_response(reader: asyncio.StreamReader, method: str = "POST") -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one response, chunked or with a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if method == "HEAD":
        body = b""
    elif headers.get("transfer-encoding") == "chunked":
        body = await _chunked(reader)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


async def send_many(port: int, requests: list[bytes], connections: int) -> list[int]:
    """Send `requests` over `connections` keep-alive connections, one at a time on each; the statuses."""
    statuses: list[int] = []
    queue = list(reversed(requests))

    async def one_connection():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                writer.write(queue.pop())
                statuses.append((await read_response(reader))[0])
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return statuses


def rss_kib(pid: int) -> int:
    """The resident set size of a process, from /proc (KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Stalled:
    """A connection that sent `first_bytes`, then nothing (or what `send` adds); what came back."""

    def __init__(self, port: int, first_bytes: bytes):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(first_bytes)
        self.sock.setblocking(False)
        self.opened = time.monotonic()
        self.received = bytearray()
        self.closed_after: float | None = None  # seconds from opening until the server closed it

    def send(self, data: bytes) -> None:
        try:
            self.sock.send(data)
        except OSError:
            pass  # closed meanwhile: poll() notices

    def poll(self) -> bool:
        """True once the server closed its end (EOF or reset), keeping what it sent before."""
        if self.closed_after is None:
            try:
                while data := self.sock.recv(65536):
                    self.received += data
            except BlockingIOError:
                return False
            except ConnectionResetError:
                pass
            self.closed_after = time.monotonic() - self.opened
        return True

    def close(self) -> None:
        self.sock.close()


def wait_closed(conns: list[Stalled], timeout: float, every=None) -> list[Stalled]:
    """Poll until the server closed them all or `timeout` passed, calling `every()` each poll; the open ones."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if every is not None:
            every()
        if all([c.poll() for c in conns]):
            return []
        time.sleep(0.05)  # poll interval: 50 ms is finer than the margins asserted
    return [c for c in conns if not c.poll()]
