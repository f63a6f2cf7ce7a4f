# Re-exported so pytest sees the thread-backed fake fixtures in these tests.
from tests.fakes.fixtures import fake_anthropic, fake_gemini, fake_openai  # noqa: F401
