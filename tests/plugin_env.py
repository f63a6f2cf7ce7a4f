"""The deployment the test suite is: one host, plain HTTP, production mode (make test sets DATABASE_URL).

Loaded by pytest (`-p tests.plugin_env` in pyproject's addopts) before pytest-django reads the
settings, so every way of starting pytest gets it, and the servers and subprocesses the tests
start inherit it (tests/servers.py passes os.environ on). A variable already set wins.
"""
import os
from urllib.parse import urlsplit, urlunsplit

# One host: the test process and its servers share SWITCHYARD_VAR_DIR and the secrets generated there.
os.environ.setdefault("SWITCHYARD_GENERATE_SECRETS", "1")
# Plain HTTP: the test client and tests/servers.py speak http://127.0.0.1, never through TLS.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")


def _per_worker(worker: str) -> None:
    """Under pytest-xdist (`make test` runs two workers), each worker gets its own Redis database
    and var/ folder; pytest-django already gives each its own test database (suffix _gwN).

    Tests flush their Redis database and write spools, secrets and server logs under var/:
    shared, two workers would flush each other's usage stream and race on the secrets' creation.
    """
    index = int(worker.removeprefix("gw") or 0)
    url = os.environ.get("REDIS_URL")
    if url:
        parts = urlsplit(url)
        db = int(parts.path.strip("/") or 0)
        # Counting down from the configured database (15 by default): Redis has 16 (0-15).
        os.environ["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{(db - index) % 16}"))
    var_dir = os.environ.get("SWITCHYARD_VAR_DIR")
    if var_dir:
        os.environ["SWITCHYARD_VAR_DIR"] = os.path.join(var_dir, worker)


if os.environ.get("PYTEST_XDIST_WORKER"):
    _per_worker(os.environ["PYTEST_XDIST_WORKER"])
