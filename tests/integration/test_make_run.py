"""`make run` on a fresh clone: `python -m gateway.run` with no DATABASE_URL/REDIS_URL.

Each start is a real subprocess tree (uvicorn, one process in embedded mode despite WORKERS=2; Celery worker and
beat) on SQLite in a temporary var dir, so these tests need no database fixture.
"""
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc"),
]

REPO = Path(__file__).resolve().parents[2]
# A cold start migrates a new SQLite database and boots 2 servers + Celery: ~10 s here.
START_TIMEOUT = 60
# run.py waits up to 10 s before SIGKILL; the rest is slack for a loaded machine.
STOP_TIMEOUT = 15
KEY_RE = re.compile(r"API key\s+(sy-[A-Za-z0-9_-]+)")
PASSWORD_RE = re.compile(r"Admin password\s+(\S+)")
EMAIL_RE = re.compile(r"Admin e-mail\s+(\S+)")
ANY_KEY_RE = re.compile(r"sy-[A-Za-z0-9_-]{20,}")


@dataclass
class Gateway:
    proc: subprocess.Popen
    port: int
    var_dir: Path
    log_path: Path

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def output(self):
        return self.log_path.read_text(errors="replace")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(var_dir, log_name):
    # Only PATH and HOME survive: the embedded mode must work with no configuration at all.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(var_dir))}
    port = free_port()
    env.update(SWITCHYARD_VAR_DIR=str(var_dir), PORT=str(port), WORKERS="2")
    log_path = var_dir.parent / log_name
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.run"], cwd=REPO, env=env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    gateway = Gateway(proc, port, var_dir, log_path)
    wait_healthy(gateway)
    return gateway


def wait_healthy(gateway):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if gateway.proc.poll() is not None:
            pytest.fail(f"gateway.run exited with {gateway.proc.returncode}:\n{gateway.output()}")
        try:
            if httpx.get(gateway.base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    stop(gateway)
    pytest.fail(f"/healthz did not answer within {START_TIMEOUT}s:\n{gateway.output()}")


def stop(gateway):
    """SIGINT like Ctrl-C; returns the exit code (None if it had to be killed)."""
    if gateway.proc.poll() is None:
        gateway.proc.send_signal(signal.SIGINT)
    try:
        return gateway.proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        for pid in descendants(gateway.proc.pid):
            _kill(pid)
        gateway.proc.kill()
        gateway.proc.wait()
        return None


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --- the process tree, read from /proc ------------------------------------------


def _stat(pid):
    """(ppid, state) or None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: the fields follow the last ")".
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0]


def descendants(root):
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(entry)) is not None:
            parents[int(entry)] = stat[0]
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid):
    stat = _stat(pid)
    return stat is not None and stat[1] != "Z"  # a zombie has exited; only its parent's reaping is left


# --- a first run, shared by the read-only tests -----------------------------------


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    gateway = start(tmp_path_factory.mktemp("first") / "var", "first.log")
    yield gateway
    stop(gateway)


def printed(gateway, pattern):
    match = pattern.search(gateway.output())
    assert match, f"{pattern.pattern!r} not in the output:\n{gateway.output()}"
    return match.group(1)


def test_it_prints_the_demo_key_and_urls_on_first_run(first_run):
    out = first_run.output()
    assert printed(first_run, KEY_RE).startswith("sy-")
    assert printed(first_run, EMAIL_RE) == "admin@demo.local"
    assert printed(first_run, PASSWORD_RE)
    assert f"{first_run.base}/console/login/" in out
    assert f"{first_run.base}/api/docs/" in out
    assert f"{first_run.base}/v1" in out
    assert "curl " in out


def test_it_writes_the_secrets_to_the_first_run_file_only(first_run):
    secrets = [printed(first_run, KEY_RE).encode(), printed(first_run, PASSWORD_RE).encode()]
    first_run_file = first_run.var_dir / "first-run.txt"
    for path in first_run.var_dir.rglob("*"):
        if path.is_file() and path != first_run_file:
            data = path.read_bytes()
            assert not any(secret in data for secret in secrets), path
    assert all(secret in first_run_file.read_bytes() for secret in secrets)


def test_it_serves_the_console_sign_in_form(first_run):
    response = httpx.get(first_run.base + "/console/login/")
    assert response.status_code == 200
    assert "<form" in response.text and 'name="password"' in response.text
    assert "csrfmiddlewaretoken" in response.text


def test_it_serves_swagger_ui_with_its_static_assets(first_run):
    response = httpx.get(first_run.base + "/api/docs/")
    assert response.status_code == 200
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', response.text)
    assert any("swagger-ui" in asset for asset in assets), response.text
    for asset in assets:
        assert httpx.get(first_run.base + asset).status_code == 200, asset


def test_it_signs_in_with_the_printed_password(first_run):
    with httpx.Client(base_url=first_run.base) as client:
        form = client.get("/console/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        response = client.post(
            "/console/login/",
            data={
                "csrfmiddlewaretoken": token,
                "username": printed(first_run, EMAIL_RE),
                "password": printed(first_run, PASSWORD_RE),
            },
        )
        assert response.status_code == 302, response.text
        assert "/console/login/" not in response.headers["location"]
        home = client.get(response.headers["location"], follow_redirects=True)
    assert home.status_code == 200
    assert "/console/login/" not in str(home.url)


def test_it_accepts_the_printed_key_on_the_admin_api(first_run):
    key = printed(first_run, KEY_RE)
    response = httpx.get(first_run.base + "/api/v1/tenants/", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    body = response.json()
    tenants = body["results"] if isinstance(body, dict) else body
    assert [tenant["slug"] for tenant in tenants] == ["demo"]


def test_it_serves_the_demo_route_and_records_usage_in_embedded_mode(first_run):
    key = printed(first_run, KEY_RE)
    response = httpx.post(
        first_run.base + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
        json={"model": "demo", "messages": [{"role": "user", "content": "hello from the demo"}]}, timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]
    request_id = response.headers["x-request-id"]

    def ledger_rows():
        db = sqlite3.connect(first_run.var_dir / "switchyard.sqlite3")
        try:
            query = "SELECT status, output_tokens FROM billing_usagerecord WHERE request_id = ?"
            return db.execute(query, (request_id,)).fetchall()
        finally:
            db.close()

    deadline = time.monotonic() + 15  # the in-process batcher replays its spool every second
    while not ledger_rows() and time.monotonic() < deadline:
        time.sleep(0.2)
    rows = ledger_rows()
    assert len(rows) == 1 and rows[0][0] == 200 and rows[0][1] > 0


def test_it_runs_the_celery_worker_and_beat(first_run):
    commands = [cmdline(pid) for pid in descendants(first_run.proc.pid)]
    assert any("celery" in c and " worker" in c for c in commands), commands
    assert any("celery" in c and " beat" in c for c in commands), commands
    assert any("uvicorn" in c for c in commands), commands


def test_it_runs_one_server_process_in_embedded_mode(first_run):
    # In-process rate-limit counters: two processes would each admit the whole limit.
    servers = [c for c in (cmdline(pid) for pid in descendants(first_run.proc.pid)) if "uvicorn" in c]
    assert len(servers) == 1 and "--workers 1" in servers[0], servers
    assert "embedded mode (no REDIS_URL): one server worker" in first_run.output()


# --- stopping and starting again -------------------------------------------------


def assert_stops_cleanly(gateway):
    tree = descendants(gateway.proc.pid)
    assert len(tree) >= 3, [cmdline(pid) for pid in tree]  # uvicorn (one process: embedded), worker (+ pool), beat
    started = time.monotonic()
    assert stop(gateway) == 0, gateway.output()
    while any(alive(pid) for pid in tree) and time.monotonic() - started < STOP_TIMEOUT:
        time.sleep(0.1)
    assert not [cmdline(pid) for pid in tree if alive(pid)]


def count_rows(var_dir, table):
    with sqlite3.connect(var_dir / "switchyard.sqlite3") as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # table names are constants of this test


def test_it_stops_every_process_on_ctrl_c_and_restarts_without_reseeding(tmp_path):
    var_dir = tmp_path / "var"
    assert_stops_cleanly(start(var_dir, "run1.log"))

    again = start(var_dir, "run2.log")
    try:
        out = again.output()
        assert f"{again.base}/console/login/" in out
        assert not ANY_KEY_RE.search(out) and "Admin password" not in out, out
        assert count_rows(var_dir, "gateway_tenant") == 1
        assert count_rows(var_dir, "gateway_apikey") == 1
        assert count_rows(var_dir, "gateway_user") == 1
    except BaseException:
        stop(again)
        raise
    assert_stops_cleanly(again)


# --- the supervisor alone, with stand-in processes --------------------------------


def test_it_exits_zero_when_asked_to_stop():
    from gateway.run import Supervisor

    handler_before = signal.getsignal(signal.SIGTERM)
    supervisor = Supervisor({"sleeper": ["sleep", "60"]})
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
    assert supervisor.run() == 0
    assert signal.getsignal(signal.SIGTERM) == handler_before  # put back for the test runner


def test_it_kills_a_process_that_ignores_the_stop_signal(monkeypatch):
    from gateway import run

    monkeypatch.setattr(run, "STOP_TIMEOUT", 1.0)
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(flush=True); time.sleep(60)"
    supervisor = run.Supervisor({"stubborn": [sys.executable, "-c", stubborn]})
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
    assert supervisor.run() == 1
    assert supervisor.children["stubborn"].returncode == -signal.SIGKILL


def test_it_kills_what_a_stopped_process_left_behind(tmp_path):
    from gateway.run import Supervisor

    pid_file = tmp_path / "orphan.pid"
    # The shell dies on SIGTERM; its background sleep would outlive it but for the group kill.
    supervisor = Supervisor({"shell": ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"]})
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
    supervisor.run()
    orphan = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while alive(orphan) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(orphan)


def test_it_refuses_to_start_on_a_port_that_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SWITCHYARD_VAR_DIR": str(tmp_path / "var"),
               "PORT": str(port)}
        done = subprocess.run([sys.executable, "-m", "gateway.run"], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=STOP_TIMEOUT + START_TIMEOUT)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"127.0.0.1:{port} is not free" in done.stderr and "set PORT" in done.stderr
    assert not (tmp_path / "var" / "switchyard.sqlite3").exists()  # refused before migrating a database
