"""Real gateway server processes for integration tests.

The servers use the pytest-django test database (tests marked
`django_db(transaction=True)` so the rows they create are committed and visible),
the test Redis, and the same var/ secrets as the test process.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

from gateway.http_protocol import UVICORN_FLAGS

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(**extra) -> dict:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        SWITCHYARD_VAR_DIR=str(settings.VAR_DIR),
        SSRF_ALLOW_PRIVATE="1",  # fake upstreams listen on 127.0.0.1
        LOG_LEVEL="WARNING",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


class GatewayServer:
    """One uvicorn process serving gateway.asgi on a free port."""

    def __init__(self, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = server_env(**env)
        self.proc: subprocess.Popen | None = None
        self.log = Path(settings.VAR_DIR) / f"server-{self.port}.log"

    def start(self, timeout=30.0):
        args = [sys.executable, "-m", "uvicorn", "gateway.asgi:application", "--port", str(self.port),
                "--no-access-log", "--lifespan", "on", *UVICORN_FLAGS]  # the flags gateway.run passes
        self.log.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.log, "wb")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                handle.close()
                raise RuntimeError(f"gateway server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()  # never leave an orphan behind a failed start
        raise RuntimeError("gateway server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def wait_until(predicate, timeout=5.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
