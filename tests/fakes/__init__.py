"""Fake upstream LLM servers (OpenAI, Anthropic, Gemini wire formats) for the test suite.

See tests/fakes/README.md for the API, the scenario names and the content rules.
"""
from tests.fakes.base import RecordedRequest
from tests.fakes.content import embedding, words
from tests.fakes.scenarios import MODEL_SEPARATOR, SCENARIO_HEADER, Scenario, parse
from tests.fakes.server import DEFAULT_KEYS, Cancellation, FakeUpstream
from tests.fakes.threaded import ThreadedUpstream, closed_port, refused_url, start_in_thread

__all__ = [
    "DEFAULT_KEYS", "MODEL_SEPARATOR", "SCENARIO_HEADER", "Cancellation", "FakeUpstream", "RecordedRequest",
    "Scenario", "ThreadedUpstream", "closed_port", "embedding", "parse", "refused_url", "start_in_thread", "words",
]
