"""Fixtures for the data-plane unit tests: pure Python, no Django database."""
from __future__ import annotations

import pytest

from gateway.dataplane.canonical import Target


@pytest.fixture
def make_target():
    def make(kind: str = "openai", **kwargs) -> Target:
        kwargs.setdefault("api_key", "sk-test-" + "k" * 24)
        kwargs.setdefault("model", "upstream-model")
        return Target(kind, **kwargs)

    return make
