"""Price catalogue and overrides: precedence, effective dates, the ledger's price version (issue 5, item 1).

Calls go through the real snapshot builder, the usage step and the ledger writer;
only the clock the snapshot builder reads is set, so a snapshot can be built "at 10:00".
"""
import time
import types
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from billing.catalogue import SOURCE
from billing.ledger import ledger_write
from billing.models import PriceOverride, UsageRecord
from billing.prices import services
from billing.prices.services import price_override_save
from gateway.dataplane.canonical import Usage, usage_from_dict
from gateway.dataplane.context import RequestContext
from gateway.dataplane.snapshot import KeyInfo
from gateway.dataplane.snapshot_builder import build_snapshot
from gateway.dataplane.steps.usage import build_event
from gateway.models import Provider, ProviderKind, Route
from gateway.services.routes import route_save

DAY = datetime(2026, 11, 10, tzinfo=UTC)
M = Decimal(1_000_000)
USAGE = Usage(input_tokens=1000, output_tokens=100)


def at(hour, minute=0, second=0):
    return DAY.replace(hour=hour, minute=minute, second=second)


def make_openai():
    return Provider.objects.create(name="openai-main", kind=ProviderKind.OPENAI, api_key="sk-test")


def make_chat(provider):
    """A shared route to gpt-4o."""
    return route_save(Route(name="chat"), targets=[(provider, "gpt-4o", 1)])


@pytest.fixture
def openai(db):
    return make_openai()


@pytest.fixture
def chat(openai):
    return make_chat(openai)


def override(provider, valid_from, valid_to=None, *, input="1", output="2", model="gpt-4o", **scope):
    return price_override_save(PriceOverride(
        provider=provider, model=model, input_per_mtok=input, output_per_mtok=output,
        valid_from=valid_from, valid_to=valid_to, **scope,
    ))


def snapshot_at(when):
    """The snapshot a data plane would have built at `when` (it loads the overrides not expired then)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "timezone", types.SimpleNamespace(now=lambda: when))
        return build_snapshot(version=1)


def call(snapshot, tenant, route, when, usage=USAGE):
    """One call through the usage step into the ledger; returns its ledger row."""
    key = KeyInfo(id=1, prefix="p", secret_hash="h", tenant_id=tenant.pk if tenant else None, team_id=None,
                  user_id=None, name="k", route_ids=None, limits=types.MappingProxyType({}), expires_at=None)
    ctx = RequestContext(scope={}, send=None, request_id=uuid.uuid4().hex, ingress="openai", endpoint="chat",
                         method="POST", headers={}, raw_body=b"", snapshot=snapshot,
                         started_wall=when.timestamp(), started=time.perf_counter())
    ctx.key, ctx.route = key, snapshot.routes_by_id[route.pk]
    ctx.target, ctx.usage = ctx.route.targets[0], usage
    event = build_event(ctx)
    ledger_write([event])
    return UsageRecord.objects.get(event_id=event["event_id"])


def cost(input_per_mtok, output_per_mtok, usage=USAGE):
    return (usage.input_tokens * Decimal(input_per_mtok) + usage.output_tokens * Decimal(output_per_mtok)) / M


@pytest.mark.django_db
def test_it_prefers_tenant_route_then_route_then_tenant_provider_then_provider(openai, chat, tenant_a,
                                                                               tenant_b):
    own = route_save(Route(tenant=tenant_a, name="a-chat"), targets=[(openai, "gpt-4o", 1)])
    other = route_save(Route(name="chat-2"), targets=[(openai, "gpt-4o", 1)])
    override(openai, at(0), input="1")
    override(openai, at(0), input="2", tenant=tenant_a)
    override(openai, at(0), input="3", route=chat)
    override(openai, at(0), input="4", tenant=tenant_a, route=chat)
    snapshot = snapshot_at(at(9))

    def price(tenant, route):
        return call(snapshot, tenant, route, at(10)).cost_usd

    assert price(tenant_a, chat) == cost(4, 2)  # tenant+route
    assert price(tenant_b, chat) == cost(3, 2)  # route
    assert price(tenant_a, own) == cost(2, 2)  # tenant+provider
    assert price(tenant_b, other) == cost(1, 2)  # provider


@pytest.mark.django_db
def test_it_falls_back_to_the_catalogue_and_stamps_its_version(openai, chat, tenant_a):
    override(openai, at(0), model="gpt-4o-mini")  # another model: not this call's price
    row = call(snapshot_at(at(9)), tenant_a, chat, at(10))
    assert row.price_version == SOURCE and SOURCE.startswith("genai-prices:")
    assert row.cost_usd == cost("2.5", "10")  # genai-prices: gpt-4o at $2.50 in / $10 out


@pytest.mark.django_db
def test_it_prices_each_call_at_the_price_valid_when_it_happened(openai, chat, tenant_a):
    first = override(openai, at(0), input="1", output="2")
    morning = call(snapshot_at(at(9)), tenant_a, chat, at(10))
    # A correction entered at 11:00: the old price ends at 12:00, the new one starts then.
    first.valid_to = at(12)
    price_override_save(first)
    second = override(openai, at(12), input="3", output="4")
    snapshot = snapshot_at(at(11, 30))
    before_noon = call(snapshot, tenant_a, chat, at(11, 59, 59))
    after_noon = call(snapshot, tenant_a, chat, at(12, 0, 1))  # same snapshot: no rebuild needed at 12:00
    afternoon = call(snapshot_at(at(13)), tenant_a, chat, at(13, 5))

    assert morning.cost_usd == before_noon.cost_usd == cost(1, 2)
    assert after_noon.cost_usd == afternoon.cost_usd == cost(3, 4)
    assert morning.price_version == f"override:{first.pk}@2026-11-10T00:00:00Z/r1"
    assert before_noon.price_version == f"override:{first.pk}@2026-11-10T00:00:00Z/r2"  # its window changed
    assert afternoon.price_version == second.version == f"override:{second.pk}@2026-11-10T12:00:00Z/r1"


@pytest.mark.django_db
def test_it_drops_an_expired_price_even_from_an_old_snapshot(openai, chat, tenant_a):
    override(openai, at(0), at(10), input="7", output="7")
    snapshot = snapshot_at(at(9, 59, 50))  # built 10 s before the price ends, then never rebuilt
    assert call(snapshot, tenant_a, chat, at(9, 59, 55)).cost_usd == cost(7, 7)
    late = call(snapshot, tenant_a, chat, at(10, 0, 25))  # within the 30 s snapshot TTL
    assert late.price_version == SOURCE and late.cost_usd == cost("2.5", "10")


@pytest.mark.django_db
def test_it_refuses_overlapping_windows_in_one_scope(openai, tenant_a):
    override(openai, at(0), at(12))
    override(openai, at(12))  # adjacent: fine
    override(openai, at(6), tenant=tenant_a)  # another scope: fine
    with pytest.raises(ValidationError) as exc:
        override(openai, at(11), at(13))
    assert "overlaps price override" in str(exc.value)
    assert PriceOverride.objects.count() == 3


@pytest.mark.django_db
def test_it_bumps_the_revision_only_when_the_price_changes(openai):
    price = override(openai, at(0))
    price.note = "contract 42"
    assert price_override_save(price).revision == 1
    price.output_per_mtok = Decimal("2.5")
    assert price_override_save(price).revision == 2
    price.model = "gpt-4.1"
    with pytest.raises(ValidationError, match="cannot change once created"):
        price_override_save(price)


@pytest.mark.django_db
def test_it_records_hourly_prices_but_charges_calls_nothing(openai, chat, tenant_a):
    hourly = price_override_save(PriceOverride(provider=openai, model="gpt-4o", unit="hour", per_hour_usd="12.5",
                                               valid_from=at(0)))
    row = call(snapshot_at(at(9)), tenant_a, chat, at(10))
    assert row.cost_usd == 0 and row.price_version == hourly.version
    with pytest.raises(ValidationError):
        price_override_save(PriceOverride(provider=openai, model="x", unit="hour", input_per_mtok="1"))


@pytest.mark.django_db
def test_it_prices_anthropic_cache_writes_at_the_cache_write_price(tenant_a):
    anthropic = Provider.objects.create(name="anthropic-main", kind=ProviderKind.ANTHROPIC, api_key="sk-ant")
    route = route_save(Route(name="haiku"), targets=[(anthropic, "claude-3-5-haiku-latest", 1)])
    usage = Usage(input_tokens=1000, output_tokens=100, cached_tokens=200, cache_write_tokens=300)
    row = call(snapshot_at(at(9)), tenant_a, route, at(10), usage)
    # genai-prices: $0.80 input, $0.08 cache read, $1.00 cache write, $4.00 output per million tokens.
    expected = (500 * Decimal("0.8") + 200 * Decimal("0.08") + 300 * Decimal("1") + 100 * Decimal("4")) / M
    assert row.cost_usd == expected and row.cache_write_tokens == 300


@pytest.mark.django_db
def test_it_stores_the_cost_a_provider_reports_beside_ours(openai, chat, tenant_a):
    reported = usage_from_dict({"prompt_tokens": 1000, "completion_tokens": 100, "cost": 0.0123456})
    assert reported.provider_cost == "0.0123456"
    snapshot = snapshot_at(at(9))
    row = call(snapshot, tenant_a, chat, at(10), reported)
    assert row.provider_cost_usd == Decimal("0.0123456") and row.cost_usd == cost("2.5", "10")
    assert call(snapshot, tenant_a, chat, at(10), USAGE).provider_cost_usd is None
    assert usage_from_dict({"prompt_tokens": 1, "cost": "free"}).provider_cost is None


@pytest.mark.django_db
def test_it_keeps_the_base_price_table_readable_as_a_mapping(openai, chat):
    snapshot = snapshot_at(at(9))
    base = snapshot.prices.get((openai.pk, "gpt-4o"))
    assert base.source == SOURCE and base.input == Decimal("2.5") / M
    assert dict(snapshot.prices) == {(openai.pk, "gpt-4o"): base}
    assert snapshot.prices.resolve(None, chat.pk, openai.pk, "gpt-4o", (DAY + timedelta(hours=1)).timestamp()) == base
