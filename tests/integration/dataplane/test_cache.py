"""The exact response cache through real gateway processes and the official SDKs (issue 4)."""
import time
from decimal import Decimal

import anthropic
import httpx
import openai
import pytest
from django.urls import reverse

from billing.models import UsageRecord
from billing.usage_stream import drain
from gateway.models import Membership, Role, Tenant
from gateway.services.keys import key_create
from tests.conftest import client_for, make_member
from tests.integration.dataplane.conftest import add_route
from tests.servers import GatewayServer, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
CACHE = {"enabled": True, "ttl": 300}
QUESTION = "what is cached stays cached"
HEADER = "x-switchyard-cache"


@pytest.fixture
def cached_routes(tenant, fake_openai, fake_anthropic):
    """One cached route per capture path: pass-through, translated, local."""
    return {
        "gpt": add_route("gpt", "openai", fake_openai.base_url, "gpt-4o-mini", tenant=tenant, cache=CACHE),
        "claude": add_route("claude", "anthropic", fake_anthropic.base_url, "claude-3-5-haiku-latest", tenant=tenant,
                            cache=CACHE),
        "mock": add_route("mock", "mock", "", "mock-1", tenant=tenant, cache=CACHE),
        "plain": add_route("plain", "openai", fake_openai.base_url, "gpt-4o-mini", tenant=tenant),
    }


@pytest.fixture
def server(redis_client, cached_routes, api_key):
    with GatewayServer() as gateway:
        yield gateway


def oai(server, key):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key.secret, max_retries=0)


def ant(server, key):
    return anthropic.Anthropic(base_url=server.url + "/anthropic", api_key=key.secret, max_retries=0)


def ask(server, key, route="gpt", question=QUESTION, headers=None, **extra):
    raw = oai(server, key).chat.completions.with_raw_response.create(
        model=route, messages=[{"role": "user", "content": question}], extra_headers=headers, **extra)
    return raw.headers.get(HEADER), raw.parse()


def upstream_calls(fake_openai, fake_anthropic):
    return fake_openai.attempts + fake_anthropic.attempts


def test_it_answers_a_repeat_without_calling_the_upstream(server, api_key, fake_openai):
    status, first = ask(server, api_key)
    assert status == "miss" and fake_openai.attempts == 1
    status, second = ask(server, api_key)
    assert status == "hit" and fake_openai.attempts == 1
    assert second.choices[0].message.content == first.choices[0].message.content == "echo: " + QUESTION
    assert second.usage.completion_tokens == first.usage.completion_tokens


@pytest.mark.parametrize("route", ["gpt", "claude", "mock"])
@pytest.mark.parametrize("first_streamed", [True, False])
def test_it_replays_a_cached_answer_as_a_valid_openai_stream(server, api_key, fake_openai, fake_anthropic, route,
                                                             first_streamed):
    client = oai(server, api_key)
    messages = [{"role": "user", "content": QUESTION}]
    if first_streamed:
        first = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model=route, messages=messages, stream=True) if c.choices)
    else:
        first = client.chat.completions.create(model=route, messages=messages).choices[0].message.content
    calls = upstream_calls(fake_openai, fake_anthropic)
    raw = client.chat.completions.with_raw_response.create(model=route, messages=messages, stream=True,
                                                           stream_options={"include_usage": True})
    chunks = list(raw.parse())
    assert raw.headers[HEADER] == "hit" and upstream_calls(fake_openai, fake_anthropic) == calls
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == first
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    body = httpx.post(server.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {api_key.secret}"},
                      json={"model": route, "messages": messages, "stream": True}).text
    assert body.endswith("data: [DONE]\n\n") and '"usage"' not in body  # usage only when asked for


@pytest.mark.parametrize("route", ["claude", "gpt"])
def test_it_replays_a_cached_answer_to_the_anthropic_sdk(server, api_key, fake_openai, fake_anthropic, route):
    client = ant(server, api_key)
    messages = [{"role": "user", "content": QUESTION}]
    with client.messages.stream(model=route, max_tokens=100, messages=messages) as stream:
        first = stream.get_final_message()
    calls = upstream_calls(fake_openai, fake_anthropic)
    raw = client.messages.with_raw_response.create(model=route, max_tokens=100, messages=messages)
    again = raw.parse()
    assert raw.headers[HEADER] == "hit" and again.content[0].text == first.content[0].text
    assert again.stop_reason == "end_turn" and again.usage.output_tokens == first.usage.output_tokens
    with client.messages.stream(model=route, max_tokens=100, messages=messages) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == first.content[0].text and final.usage.output_tokens == first.usage.output_tokens
    assert upstream_calls(fake_openai, fake_anthropic) == calls


def test_it_shares_an_entry_between_the_openai_and_anthropic_formats(server, api_key, fake_openai):
    ask(server, api_key, max_tokens=100)
    raw = ant(server, api_key).messages.with_raw_response.create(
        model="gpt", max_tokens=100, messages=[{"role": "user", "content": QUESTION}])
    assert raw.headers[HEADER] == "hit" and raw.parse().content[0].text == "echo: " + QUESTION
    assert fake_openai.attempts == 1
    ant(server, api_key).messages.create(model="gpt", max_tokens=100, extra_body={"top_k": 5},
                                         messages=[{"role": "user", "content": QUESTION}])
    assert fake_openai.attempts == 2  # a field the canonical form cannot carry makes another entry


def test_it_never_shares_an_entry_between_two_tenants(redis_client, fake_openai, api_key, tenant):
    shared = add_route("shared", "openai", fake_openai.base_url, "gpt-4o-mini", cache=CACHE)
    other = Tenant.objects.create(slug="globex", name="Globex")
    owner = make_member(other, "dev@globex.test", "developer")
    other_key, other_key.secret = key_create(tenant=other, name="app", owner=owner)
    with GatewayServer() as gateway:
        assert ask(gateway, api_key, shared.name)[0] == "miss"
        assert ask(gateway, other_key, shared.name)[0] == "miss"
        assert fake_openai.attempts == 2
        assert ask(gateway, api_key, shared.name)[0] == "hit"
        assert ask(gateway, other_key, shared.name)[0] == "hit"
        assert fake_openai.attempts == 2
    keys = [k.decode() for k in redis_client.scan_iter("sy:cache:*:*:*")]
    assert sorted(k.split(":")[2] for k in keys) == sorted([str(tenant.pk), str(other.pk)])


def test_it_expires_entries_after_their_ttl(redis_client, tenant, api_key, fake_openai):
    add_route("brief", "openai", fake_openai.base_url, "gpt-4o-mini", tenant=tenant, cache={"enabled": True, "ttl": 1})
    with GatewayServer() as gateway:
        assert [ask(gateway, api_key, "brief")[0] for _ in range(2)] == ["miss", "hit"]
        time.sleep(1.2)
        assert ask(gateway, api_key, "brief")[0] == "miss"
    assert fake_openai.attempts == 2


def test_it_invalidates_a_route_through_the_rest_api(server, api_key, tenant, cached_routes, fake_openai):
    route = cached_routes["gpt"]
    assert [ask(server, api_key)[0] for _ in range(2)] == ["miss", "hit"]
    url = reverse("route-cache-invalidate", args=[route.pk])
    viewer = make_member(tenant, "viewer@acme.test", Role.VIEWER)
    assert client_for(viewer).post(url).status_code == 403
    outsider = make_member(Tenant.objects.create(slug="other", name="Other"), "admin@other.test", Role.ADMIN)
    assert client_for(outsider).post(url).status_code == 404
    assert ask(server, api_key)[0] == "hit"
    admin = make_member(tenant, "admin@acme.test", Role.ADMIN)
    response = client_for(admin).post(url)
    assert response.status_code == 200 and response.json()["generation"] == 1
    assert [ask(server, api_key)[0] for _ in range(2)] == ["miss", "hit"]
    assert fake_openai.attempts == 2
    status = client_for(admin).get(reverse("route-cache-detail", args=[route.pk])).json()
    assert status["status"]["generation"] == 1 and status["cache"] == CACHE


def test_it_lets_only_superusers_invalidate_a_shared_route(redis_client, tenant, fake_openai):
    shared = add_route("shared", "openai", fake_openai.base_url, "gpt-4o-mini", cache=CACHE)
    url = reverse("route-cache-invalidate", args=[shared.pk])
    admin = make_member(tenant, "admin@acme.test", Role.ADMIN)
    assert client_for(admin).post(url).status_code == 403
    root = Membership.objects.get(user=admin).user
    root.is_superuser = True
    root.save()
    assert client_for(root).post(url).status_code == 200


def test_it_bypasses_the_cache_on_request(server, api_key, fake_openai):
    assert ask(server, api_key, headers={"Cache-Control": "no-store"})[0] == "bypass"
    assert ask(server, api_key, headers={"Cache-Control": "no-cache"})[0] == "bypass"  # not read, but stored
    assert fake_openai.attempts == 2
    assert ask(server, api_key)[0] == "hit"
    assert ask(server, api_key, question="never kept", headers={"Cache-Control": "no-store"})[0] == "bypass"
    assert ask(server, api_key, question="never kept")[0] == "miss"
    assert fake_openai.attempts == 4


def test_it_caches_neither_truncated_nor_failed_answers(server, api_key, tenant, fake_openai):
    assert [ask(server, api_key, max_tokens=2)[0] for _ in range(2)] == ["miss", "miss"]  # finish_reason length
    add_route("broken", "openai", fake_openai.base_url, "gpt-4o-mini~status:500", tenant=tenant, cache=CACHE,
              retry={"max_retries": 0}, breaker={"enabled": False})
    assert wait_until(lambda: _status(server, api_key, "broken") != 404, timeout=5)  # the snapshot has it
    counts = []
    for _ in range(2):
        assert _status(server, api_key, "broken") >= 500
        counts.append(fake_openai.attempts)
    assert counts[1] > counts[0]  # the second call went upstream again


def test_it_caches_embeddings(server, api_key, fake_openai):
    client = oai(server, api_key)
    first = client.embeddings.with_raw_response.create(model="gpt", input=["one two", "three"])
    second = client.embeddings.with_raw_response.create(model="gpt", input=["one two", "three"])
    assert (first.headers[HEADER], second.headers[HEADER]) == ("miss", "hit") and fake_openai.attempts == 1
    assert [d.embedding for d in second.parse().data] == [d.embedding for d in first.parse().data]


def test_it_sends_no_cache_header_on_routes_without_a_cache(server, api_key, fake_openai):
    assert [ask(server, api_key, "plain")[0] for _ in range(2)] == [None, None]
    assert fake_openai.attempts == 2


def test_it_records_a_hit_at_zero_cost_with_what_it_saved(server, api_key, redis_client):
    ask(server, api_key)
    ask(server, api_key)
    assert wait_until(lambda: drained(redis_client) == 2, timeout=10)
    miss, hit = UsageRecord.objects.order_by("created_at", "id")
    assert (miss.cache_status, hit.cache_status) == ("miss", "hit")
    assert miss.cost_usd > 0 and miss.cost_saved_usd == 0 and miss.status == 200 and not miss.cancelled
    assert hit.cost_usd == 0 and hit.cost_saved_usd == miss.cost_usd
    assert hit.input_tokens == hit.output_tokens == 0 and hit.provider == "" and hit.status == 200
    assert Decimal(hit.cost_saved_usd) > 0


def test_it_caches_in_process_in_embedded_mode(redis_client, cached_routes, api_key, fake_openai, settings):
    from gateway.dataplane.cache import generations

    with GatewayServer(REDIS_URL="") as gateway:
        assert [ask(gateway, api_key)[0] for _ in range(2)] == ["miss", "hit"]
        settings.REDIS_URL = ""  # the control plane writes the generation file the server watches
        generations.bump(cached_routes["gpt"].pk)
        time.sleep(generations.POLL_S + 0.1)
        assert [ask(gateway, api_key)[0] for _ in range(2)] == ["miss", "hit"]
    assert fake_openai.attempts == 2


def drained(redis_client):
    """Rows in the ledger after moving what the usage stream holds."""
    drain(redis_client)
    return UsageRecord.objects.count()


def _status(server, key, model):
    return httpx.post(server.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {key.secret}"},
                      json={"model": model, "messages": [{"role": "user", "content": "x"}]}, timeout=10).status_code
