"""Fault tests reuse the data-plane fixtures: a tenant with a key, fresh fakes, a clean Redis."""
from tests.fakes.fixtures import fake_anthropic, fake_gemini, fake_openai  # noqa: F401
from tests.integration.dataplane.conftest import api_key, redis_client, tenant  # noqa: F401
