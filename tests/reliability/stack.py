"""A whole production-mode installation on private PostgreSQL and Redis: gateway server, Celery
worker and beat (whose drain task moves the usage stream into the ledger), fake upstreams."""
from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.fakes.threaded import start_in_thread
from tests.reliability.private_services import PrivatePostgres, PrivateRedis
from tests.servers import ROOT, GatewayServer, server_env

STOP_TIMEOUT_S = 15  # a Celery worker finishes its task (a drain batch) well within this


class PrivateStack:
    def __init__(self, root: Path):
        self.root = root
        self.postgres, self.redis = PrivatePostgres(), PrivateRedis(root)
        self.var = root / "var"
        self.fakes = [start_in_thread("openai"), start_in_thread("anthropic")]
        self.env = server_env(DATABASE_URL=self.postgres.url, REDIS_URL=self.redis.url,
                              SWITCHYARD_VAR_DIR=str(self.var))
        self.server = GatewayServer(**self.env)
        self.celery: dict[str, subprocess.Popen] = {}
        self.secret = ""

    def start(self):
        self.postgres.start()
        self.postgres.create_database()
        self.redis.start()
        seeded = subprocess.run([sys.executable, "-m", "tests.reliability.seed", self.fakes[0].base_url,
                                 self.fakes[1].base_url], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if seeded.returncode:
            raise RuntimeError(f"seeding the private database failed: {seeded.stderr[-2000:]}")
        self.secret = seeded.stdout.strip().splitlines()[-1]
        self.server.start()
        for role, extra in (("worker", ["--concurrency", "1", "--without-mingle", "--without-gossip"]),
                            ("beat", ["--schedule", str(self.var / "celerybeat-schedule")])):
            log = open(self.root / f"{role}.log", "wb")  # noqa: SIM115 - lives as long as the process
            self.celery[role] = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "gateway", role, "--loglevel", "WARNING", *extra],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def ledger_counts(self, request_ids) -> Counter:
        rows = self.postgres.query("SELECT request_id, count(*) FROM billing_usagerecord "
                                   "WHERE request_id = ANY(%s) GROUP BY request_id", [list(request_ids)])
        return Counter(dict(rows))

    def alive(self) -> dict[str, bool]:
        procs = {"server": self.server.proc, **self.celery}
        return {name: proc is not None and proc.poll() is None for name, proc in procs.items()}

    def logs(self) -> str:
        parts = [self.server.output()[-1500:]]
        parts += [(self.root / f"{role}.log").read_text(errors="replace")[-1500:] for role in self.celery]
        return "\n---\n".join(parts)

    def stop(self):
        for proc in self.celery.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.celery.values():
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.server.stop()
        self.redis.stop()
        self.postgres.remove()
        for fake in self.fakes:
            fake.stop()
