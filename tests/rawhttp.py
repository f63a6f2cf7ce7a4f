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


def stalled_socket(port: int, first_bytes: bytes) -> socket.socket:
    """A connection that sent `first_bytes` and then nothing more."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(first_bytes)
    sock.setblocking(False)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed its end (EOF or reset); answers sent before are read and dropped."""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def wait_all_closed(socks: list[socket.socket], timeout: float) -> tuple[int, float]:
    """(how many the server closed, seconds until the last of them) within `timeout`."""
    started, open_socks, last = time.monotonic(), list(socks), 0.0
    while open_socks and time.monotonic() - started < timeout:
        still = [s for s in open_socks if not closed_by_server(s)]
        if len(still) < len(open_socks):
            last = time.monotonic() - started
        open_socks = still
        time.sleep(0.05)  # poll interval: 50 ms is finer than the margins asserted
    return len(socks) - len(open_socks), last
