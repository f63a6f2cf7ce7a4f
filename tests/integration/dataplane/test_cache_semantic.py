"""The semantic cache: paraphrases served from the cache, everything else not (issue 4).

Embeddings come from the local MiniLM model (offline); the threshold of 0.9 sits
between the paraphrases below (cosine 0.92-0.99 with this model) and the
look-alike questions with another answer (0.22-0.78).
"""
import pytest

from billing.models import UsageRecord
from gateway.models import SemanticCacheEntry, SemanticShadowHit
from tests.integration.dataplane.conftest import add_route
from tests.integration.dataplane.test_cache import ask, drained
from tests.servers import GatewayServer, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
THRESHOLD = 0.9
PARAPHRASES = [
    ("What is the capital of France?", "What's the capital city of France?"),
    ("How do I reverse a list in Python?", "How can I reverse a Python list?"),
    ("Explain photosynthesis in simple terms.", "Explain photosynthesis simply."),
    ("How many legs does a spider have?", "How many legs do spiders have?"),
    ("Who wrote Pride and Prejudice?", "Who is the author of Pride and Prejudice?"),
    ("How do I center a div in CSS?", "How can I center a div using CSS?"),
    ("Summarize the plot of Hamlet", "Give me a summary of Hamlet's plot"),
]
DIFFERENT = [
    ("What is the capital of France?", "What is the capital of Germany?"),
    ("How do I reverse a list in Python?", "How do I sort a dictionary in Python?"),
    ("Tell me a joke about cats", "Write a poem about the ocean"),
    ("How many legs does a spider have?", "How many legs does an ant have?"),
    ("Who wrote Pride and Prejudice?", "Who wrote War and Peace?"),
    ("What is the boiling point of water?", "What is the freezing point of water?"),
]


def semantic(**settings):
    return {"enabled": True, "ttl": 300, "semantic": {"enabled": True, "threshold": THRESHOLD, **settings}}


@pytest.fixture
def server(redis_client, tenant, api_key, fake_openai):
    add_route("sem", "openai", fake_openai.base_url, "gpt-4o-mini", tenant=tenant, cache=semantic())
    add_route("shadow", "openai", fake_openai.base_url, "gpt-4o-mini", tenant=tenant, cache=semantic(shadow=True))
    with GatewayServer() as gateway:
        yield gateway


def ask_all(server, key, questions, route="sem", **extra):
    """Ask each question; wait until every answer that should be kept was written."""
    before = SemanticCacheEntry.objects.count()
    statuses = [ask(server, key, route, q, **extra)[0] for q in questions]
    return statuses, before


def wait_for_entries(count):
    assert wait_until(lambda: SemanticCacheEntry.objects.count() >= count, timeout=10)


def test_it_serves_paraphrases_above_the_threshold(server, api_key, fake_openai):
    statuses, _ = ask_all(server, api_key, [original for original, _ in PARAPHRASES])
    assert statuses == ["miss"] * len(PARAPHRASES)
    wait_for_entries(len(PARAPHRASES))
    for original, paraphrase in PARAPHRASES:
        status, answer = ask(server, api_key, "sem", paraphrase)
        assert (status, answer.choices[0].message.content) == ("semantic", "echo: " + original), paraphrase
    assert fake_openai.attempts == len(PARAPHRASES)


def test_it_misses_questions_below_the_threshold(server, api_key, fake_openai):
    ask_all(server, api_key, [first for first, _ in DIFFERENT])
    wait_for_entries(len(DIFFERENT))
    for _, other in DIFFERENT:
        status, answer = ask(server, api_key, "sem", other)
        assert (status, answer.choices[0].message.content) == ("miss", "echo: " + other), other
    assert fake_openai.attempts == 2 * len(DIFFERENT)


def test_it_records_a_semantic_hit_at_zero_cost(server, api_key, redis_client):
    original, paraphrase = PARAPHRASES[0]
    ask(server, api_key, "sem", original)
    wait_for_entries(1)
    assert ask(server, api_key, "sem", paraphrase)[0] == "semantic"
    assert wait_until(lambda: drained(redis_client) == 2, timeout=10)
    miss, hit = UsageRecord.objects.order_by("created_at", "id")
    assert (miss.cache_status, hit.cache_status) == ("miss", "semantic")
    assert hit.cost_usd == 0 and hit.cost_saved_usd == miss.cost_usd > 0


def test_it_records_shadow_hits_without_serving_them(server, api_key, fake_openai, redis_client):
    original, paraphrase = PARAPHRASES[1]
    ask(server, api_key, "shadow", original)
    wait_for_entries(1)
    status, answer = ask(server, api_key, "shadow", paraphrase)
    assert (status, answer.choices[0].message.content) == ("miss", "echo: " + paraphrase)
    assert fake_openai.attempts == 2
    assert wait_until(lambda: SemanticShadowHit.objects.exists(), timeout=10)
    shadow = SemanticShadowHit.objects.get()
    assert THRESHOLD <= shadow.similarity < 1 and shadow.threshold == THRESHOLD
    assert shadow.entry_id == SemanticCacheEntry.objects.order_by("id").first().pk
    assert wait_until(lambda: drained(redis_client) == 2, timeout=10)
    row = UsageRecord.objects.get(request_id=shadow.request_id)
    assert row.cache_status == "shadow" and row.cost_usd > 0 and row.cost_saved_usd == 0


TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]


@pytest.mark.parametrize("extra", [{"tools": TOOLS, "tool_choice": "none"}, {"temperature": 0.9}],
                         ids=["tools", "hot"])
def test_it_skips_the_semantic_cache_for_tools_and_high_temperatures(server, api_key, fake_openai, extra):
    original, paraphrase = PARAPHRASES[2]
    assert ask(server, api_key, "sem", original, **extra)[0] == "miss"
    assert ask(server, api_key, "sem", original, **extra)[0] == "hit"  # the exact cache still serves repeats
    assert ask(server, api_key, "sem", paraphrase, **extra)[0] == "miss"
    assert fake_openai.attempts == 2
    assert not SemanticCacheEntry.objects.exists()


def test_it_embeds_with_a_routes_embedding_provider(redis_client, tenant, api_key, fake_openai):
    add_route("embed", "openai", fake_openai.base_url, "text-embedding-3-small", tenant=tenant)
    cache = {"enabled": False, "semantic": {"enabled": True, "threshold": 0.99, "embedding_route": "embed"}}
    add_route("viaroute", "openai", fake_openai.base_url, "gpt-4o-mini", tenant=tenant, cache=cache)
    with GatewayServer() as gateway:
        assert ask(gateway, api_key, "viaroute", "same words twice")[0] == "miss"
        wait_for_entries(1)
        assert ask(gateway, api_key, "viaroute", "same words twice")[0] == "semantic"
        assert ask(gateway, api_key, "viaroute", "other words entirely")[0] == "miss"
    paths = [r.path for r in fake_openai.requests]
    assert paths.count("/v1/embeddings") >= 3 and paths.count("/v1/chat/completions") == 2
    entry = SemanticCacheEntry.objects.first()
    assert entry.embedder.startswith("route:") and entry.dims == 8  # the fake's vectors


def test_it_searches_in_process_where_the_database_has_no_pgvector():
    from gateway.dataplane.cache import semantic_db

    assert semantic_db.pgvector_ready() is False  # this machine's PostgreSQL has no `vector` extension
