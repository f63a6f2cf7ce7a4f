"""The deployment the test suite is: one host, plain HTTP, production mode (make test sets DATABASE_URL).

Loaded by pytest (`-p tests.plugin_env` in pyproject's addopts) before pytest-django reads the
settings, so every way of starting pytest gets it, and the servers and subprocesses the tests
start inherit it (tests/servers.py passes os.environ on). A variable already set wins.
"""
import os

# One host: the test process and its servers share SWITCHYARD_VAR_DIR and the secrets generated there.
os.environ.setdefault("SWITCHYARD_GENERATE_SECRETS", "1")
# Plain HTTP: the test client and tests/servers.py speak http://127.0.0.1, never through TLS.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
