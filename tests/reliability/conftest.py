"""The reliability suite (issue 14, RELIABILITY.md B5, B6, B8): its fixtures.

Every test here is marked `reliability`; `make reliability` runs them at RELIABILITY_SCALE=full,
`make test` at the default ci scale. The report table and its fixture are in plugin.py.
"""
import pytest

from tests.fakes.fixtures import fake_anthropic, fake_openai  # noqa: F401
from tests.integration.dataplane.conftest import api_key, redis_client, tenant  # noqa: F401
from tests.reliability.stack import PrivateStack


@pytest.fixture(scope="session")
def private_stack(tmp_path_factory):
    """Server, worker and beat on PostgreSQL and Redis of their own, started once for the session."""
    stack = PrivateStack(tmp_path_factory.mktemp("private-stack"))
    try:
        yield stack.start()
    finally:
        stack.stop()
