"""PostgreSQL and Redis instances of this test session's own, on free ports, to stop and start.

The shared servers on 5432/6379 serve other test runs and must never be stopped; these live in a
temporary directory and die with the session. PostgreSQL refuses to run as root, so as root its
commands run as the `postgres` OS user.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis

from tests.servers import free_port, wait_until

START_TIMEOUT_S = 30  # pg_ctl -w / redis ping; both start in well under a second when idle


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or name]
    return found[-1]  # the newest installed major version


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PrivatePostgres:
    def __init__(self):
        # Its own top-level temp dir: pytest's (/tmp/pytest-of-root, mode 0700) is closed to the postgres user.
        root = Path(tempfile.mkdtemp(prefix="sy-reliability-pg-"))
        self.root, self.port = root, free_port()
        self.data, self.log = root / "pgdata", root / "postgres.log"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/switchyard"
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
        subprocess.run(_as_postgres([_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                                     "-E", "UTF8", "--no-sync"]), check=True, capture_output=True)

    def start(self):
        # fsync off: a test cluster need not survive a power cut; a fast stop still writes everything.
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                                     "-t", str(START_TIMEOUT_S), "-o", options, "start"]),
                       check=True, capture_output=True)

    def stop(self):
        """A fast shutdown: open connections are cut, as in a failover or a crash-restart."""
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
                       check=False, capture_output=True)

    def remove(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self):
        with psycopg.connect(f"postgres://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE switchyard")

    def is_up(self) -> bool:
        try:
            self.query("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def query(self, sql: str, params=None) -> list[tuple]:
        with psycopg.connect(self.url, connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()


class PrivateRedis:
    """AOF with fsync on every write: the usage stream must survive a restart (as in production)."""

    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.client = redis.Redis(port=self.port, socket_timeout=5)

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root),
                "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        if not wait_until(self._pings, timeout=START_TIMEOUT_S):
            raise RuntimeError("private redis did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SHUTDOWN: clients are disconnected, the AOF is flushed
            self.proc.wait(START_TIMEOUT_S)

    def is_up(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.ConnectionError:
            return False

    def _pings(self):
        try:
            return self.client.ping()
        except redis.ConnectionError:
            time.sleep(0.05)
            return False
