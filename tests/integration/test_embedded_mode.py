"""Embedded `make run` (`python -m gateway.run`, no DATABASE_URL/REDIS_URL) over time and on a developer's machine.

One supervisor tree on SQLite in a temporary var dir, shared by the tests: its children are
killed (SIGKILL) and must come back while the data plane keeps answering; the first-run file
holds the demo key; Celery stays at WARNING; a provider on 127.0.0.1 (ollama) answers.
"""
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes import start_in_thread
from tests.integration.test_make_run import KEY_RE, REPO, alive, cmdline, start, stop
from tests.servers import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc"),
]

# A restart waits 1 s (gateway.run.BACKOFF_BASE_SECONDS); a Celery worker or uvicorn then boots
# in ~3-5 s here; the rest is slack for a loaded 2-core machine.
RESTART_TIMEOUT = 60
LEDGER_TIMEOUT = 15  # the server's in-process batcher writes the ledger every second
ROLE_MARKERS = {"server": "uvicorn", "worker": " worker", "beat": " beat"}


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    gateway = start(tmp_path_factory.mktemp("embedded") / "var", "embedded.log")
    yield gateway
    stop(gateway)


def child_pid(gateway, role):
    """The supervisor's direct child running `role` (not the worker's pool processes), or None."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == gateway.proc.pid and alive(int(entry)):
            if ROLE_MARKERS[role] in cmdline(int(entry)):
                return int(entry)
    return None


def demo_key(gateway):
    return KEY_RE.search((gateway.var_dir / "first-run.txt").read_text()).group(1)


def chat(gateway, key, model="demo"):
    return httpx.post(gateway.base + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                      json={"model": model, "messages": [{"role": "user", "content": "still there?"}]}, timeout=10)


def ledger_has(gateway, request_id):
    db = sqlite3.connect(gateway.var_dir / "switchyard.sqlite3")
    try:
        query = "SELECT COUNT(*) FROM billing_usagerecord WHERE request_id = ?"
        return db.execute(query, (request_id,)).fetchone()[0] == 1
    finally:
        db.close()


def queued(gateway):
    return len(os.listdir(gateway.var_dir / "celery" / "queue"))


def test_it_keeps_serving_while_a_killed_worker_comes_back(embedded):
    key, server, old = demo_key(embedded), child_pid(embedded, "server"), child_pid(embedded, "worker")
    assert server and old
    os.kill(old, signal.SIGKILL)
    statuses, most_queued, deadline = [], 0, time.monotonic() + RESTART_TIMEOUT
    while time.monotonic() < deadline:
        statuses.append(chat(embedded, key).status_code)
        most_queued = max(most_queued, queued(embedded))
        new = child_pid(embedded, "worker")
        if new not in (None, old) and most_queued >= 2 and queued(embedded) <= 1:
            break  # back, and it has taken what beat queued meanwhile
        time.sleep(0.2)
    assert new not in (None, old), embedded.output()[-3000:]
    assert most_queued >= 2  # beat kept publishing while the worker was away
    assert queued(embedded) <= 1  # the new worker consumes them
    assert set(statuses) == {200} and len(statuses) >= 5, statuses
    assert child_pid(embedded, "server") == server  # the server was never taken down
    assert re.search(r"worker exited unexpectedly \(code -9\).*restarting it in 1s", embedded.output())
    response = chat(embedded, key)
    assert response.status_code == 200
    assert wait_until(lambda: ledger_has(embedded, response.headers["x-request-id"]), timeout=LEDGER_TIMEOUT)


def test_it_restarts_a_killed_server(embedded):
    server, worker = child_pid(embedded, "server"), child_pid(embedded, "worker")
    os.kill(server, signal.SIGKILL)

    def healthy_again():
        try:
            return httpx.get(embedded.base + "/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    assert wait_until(lambda: child_pid(embedded, "server") not in (None, server), timeout=RESTART_TIMEOUT)
    assert wait_until(healthy_again, timeout=RESTART_TIMEOUT, interval=0.25), embedded.output()[-3000:]
    assert chat(embedded, demo_key(embedded)).status_code == 200
    assert child_pid(embedded, "worker") == worker
    assert embedded.proc.poll() is None


def test_it_writes_the_first_run_file_for_its_owner_only(embedded):
    path = embedded.var_dir / "first-run.txt"
    assert path.stat().st_mode & 0o777 == 0o600
    printed = KEY_RE.search(embedded.output()).group(1)
    assert demo_key(embedded) == printed and "Admin password" in path.read_text()
    assert str(path) in embedded.output()  # the banner names the file


def test_it_runs_celery_at_warning_by_default(embedded):
    for role in ("worker", "beat"):
        command = cmdline(child_pid(embedded, role))
        assert "--loglevel WARNING" in command and " --quiet " in command, command
    # At INFO beat logs each due task (drain-usage every second); the banner would scroll away.
    assert "Sending due task" not in embedded.output()
    assert "[queues]" not in embedded.output() and "Configuration ->" not in embedded.output()  # no start-up banners


def test_it_runs_celery_at_the_log_level_set_explicitly(tmp_path):
    script = ("import django; django.setup(); from gateway import run; o = run.read_options(); "
              "print(' '.join(run.worker_command(o)), '|', ' '.join(run.beat_command(o)))")
    env = {"PATH": os.environ["PATH"], "SWITCHYARD_VAR_DIR": str(tmp_path), "LOG_LEVEL": "info",
           "DJANGO_SETTINGS_MODULE": "gateway.settings"}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.count("--loglevel INFO") == 2 and "--quiet" not in out, out


def test_it_lets_a_local_ollama_provider_answer_in_embedded_mode(embedded, tmp_path):
    with start_in_thread("openai") as fake:
        config = tmp_path / "local.yaml"
        config.write_text(
            "providers:\n"
            f"  - {{name: local-ollama, kind: ollama, base_url: '{fake.base_url}', api_key: {fake.api_key}}}\n"
            "routes:\n"
            "  - {name: llama, targets: [{provider: local-ollama, model: llama3.2}]}\n"
        )
        env = {"PATH": os.environ["PATH"], "SWITCHYARD_VAR_DIR": str(embedded.var_dir)}
        subprocess.run([sys.executable, "manage.py", "apply_config", str(config)], cwd=REPO, env=env,
                       capture_output=True, check=True)
        key = demo_key(embedded)
        # The server polls the config version every 0.5 s; until then the route is unknown (404).
        assert wait_until(lambda: chat(embedded, key, "llama").status_code != 404, timeout=LEDGER_TIMEOUT)
        response = chat(embedded, key, "llama")
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "echo: still there?"
        assert fake.attempts >= 1
