"""Balancing, fallbacks, 429 cooldowns and canaries through a real gateway process (issue 4, items 4-7)."""
import pytest

from tests.integration.dataplane.resilience_helpers import (
    chat,
    context_window_upstream,
    ledger_rows,
    models_sent,
    multi_route,
    provider,
    served_by,
)
from tests.servers import GatewayServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_it_balances_round_robin_and_lowest_cost_as_configured(redis_client, api_key, fake_openai):
    one, two = (provider(f"rr-{i}", "openai", fake_openai.base_url) for i in (1, 2))
    multi_route("rr", [(one, "gpt-4o-mini", 2), (two, "gpt-4o-mini", 1)], strategy="round_robin")
    cheap = provider("cheap", "openai", fake_openai.base_url,
                     prices={"gpt-4o-mini": {"input_per_mtok": 0.01, "output_per_mtok": 0.02}})
    multi_route("cheapest", [(one, "gpt-4o-mini", 5), (cheap, "gpt-4o-mini", 1)], strategy="lowest_cost")
    with GatewayServer() as server:
        rr = [served_by(chat(server, api_key, "rr"))[1] for _ in range(6)]
        cheapest = {served_by(chat(server, api_key, "cheapest"))[1] for _ in range(5)}
    assert rr == ["rr-1", "rr-2", "rr-1"] * 2
    assert cheapest == {"cheap"}


def test_it_falls_back_and_names_the_fallback_in_headers(redis_client, api_key, fake_openai, fake_anthropic):
    broken = provider("broken", "openai", fake_openai.base_url)
    backup = provider("backup", "anthropic", fake_anthropic.base_url)
    spare = multi_route("spare", [(backup, "claude-3-5-haiku-latest", 1)])
    multi_route("main", [(broken, "gpt-4o-mini~status:503", 1)], fallbacks=[spare])
    with GatewayServer() as server:
        response = chat(server, api_key, "main")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "echo: hello there"
    assert served_by(response) == ("spare", "backup")
    assert fake_openai.attempts == 3 and fake_anthropic.attempts == 1  # 1 + max_retries, then the fallback
    row = ledger_rows(redis_client, 1)[0]
    assert (row.route, row.provider, row.status, row.attempts) == ("spare", "backup", 200, 4)
    assert [(a["route"], a["provider"], a["status"]) for a in row.attempt_log] == [
        ("main", "broken", 503), ("main", "broken", 503), ("main", "broken", 503), ("spare", "backup", 200)]


def test_it_falls_back_when_the_prompt_exceeds_the_context_window(redis_client, api_key, fake_anthropic):
    with context_window_upstream() as small:
        narrow = provider("narrow", "openai", small.base_url)
        wide = provider("wide", "anthropic", fake_anthropic.base_url)
        big = multi_route("big-window", [(wide, "claude-3-5-haiku-latest", 1)])
        multi_route("small-window", [(narrow, "gpt-4o-mini~status:400", 1)], fallbacks=[big])
        multi_route("no-fallback-on", [(narrow, "gpt-4o-mini~status:400", 1)], fallbacks=[big],
                    retry={"fallback_on": ["content_policy"]})
        with GatewayServer() as server:
            response = chat(server, api_key, "small-window")
            refused = chat(server, api_key, "no-fallback-on")
        attempts = small.attempts
    assert response.status_code == 200 and served_by(response) == ("big-window", "wide")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "context_length_exceeded"
    assert attempts == 2 and fake_anthropic.attempts == 1  # once per request: a 400 is never retried


def test_it_honours_retry_after_by_cooling_the_target_down_everywhere(redis_client, api_key, fake_openai):
    limited, spare = provider("limited", "openai", fake_openai.base_url), provider("spare", "openai",
                                                                                   fake_openai.base_url)
    multi_route("busy", [(limited, "gpt-4o-mini~rate_limited:30", 1), (spare, "gpt-4o-mini", 1)],
                strategy="round_robin")  # the first request goes to the rate-limited target
    with GatewayServer() as one, GatewayServer() as two:
        first = chat(one, api_key, "busy")
        later = [served_by(chat(server, api_key, "busy"))[1] for server in (one, two, one, two)]
    assert first.status_code == 200 and served_by(first)[1] == "spare"
    assert later == ["spare"] * 4
    assert models_sent(fake_openai).count("gpt-4o-mini~rate_limited:30") == 1


def test_it_answers_429_with_retry_after_while_the_only_target_cools_down(redis_client, api_key, fake_openai):
    only = provider("only", "openai", fake_openai.base_url)
    multi_route("lonely", [(only, "gpt-4o-mini~rate_limited:30", 1)])
    with GatewayServer() as server:
        first, second = chat(server, api_key, "lonely"), chat(server, api_key, "lonely")
    assert first.status_code == 429 and first.headers["retry-after"] == "30"
    assert second.status_code == 429 and second.json()["error"]["code"] == "upstream_rate_limited"
    assert 0 < int(second.headers["retry-after"]) <= 30
    assert fake_openai.attempts == 1  # Retry-After (30 s) exceeds max_backoff: no retry, and no second call


def test_it_keeps_each_canary_caller_on_one_variant(redis_client, tenant, api_key, fake_openai):
    from gateway.services.keys import key_create

    a, b = provider("variant-a", "openai", fake_openai.base_url), provider("variant-b", "openai", fake_openai.base_url)
    multi_route("ab", [(a, "gpt-4o-mini", 1), (b, "gpt-4o-mini", 1)], canary={"sticky": "key"})
    keys = [api_key]
    for i in range(15):
        key, key.secret = key_create(tenant=tenant, name=f"caller-{i}")
        keys.append(key)
    with GatewayServer() as server:
        seen = [{served_by(chat(server, key, "ab"))[1] for _ in range(4)} for key in keys]
    assert all(len(variants) == 1 for variants in seen)
    assert set().union(*seen) == {"variant-a", "variant-b"}  # both arms get callers (odds 2 in 65,536 otherwise)
