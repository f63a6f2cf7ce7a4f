"""Pytest fixtures: fresh thread-backed fakes, one per test.

Use from a conftest with ``from tests.fakes.fixtures import fake_openai, fake_anthropic, fake_gemini``
(re-exporting the names makes pytest see them), or ``pytest_plugins = ["tests.fakes.fixtures"]``
in the root conftest.
"""
import pytest

from tests.fakes.threaded import ThreadedUpstream, start_in_thread


def _fake(kind: str):
    handle = start_in_thread(kind)  # the key is DEFAULT_KEYS[kind]; read it back as handle.api_key
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def fake_openai() -> ThreadedUpstream:
    yield from _fake("openai")


@pytest.fixture
def fake_anthropic() -> ThreadedUpstream:
    yield from _fake("anthropic")


@pytest.fixture
def fake_gemini() -> ThreadedUpstream:
    yield from _fake("gemini")
