"""The request log explorer: tenant isolation, keyset pages, filters, the detail page, fixed query counts."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from gateway.models import ApiKey, Membership, Role, User
from gateway.services.keys import key_create
from tests.console.conftest import signed_in
from tests.console.ledger import make_usage
from tests.console.test_dashboards import queries


@pytest.mark.django_db
def test_it_lists_only_the_current_tenant_rows(tenant_a, tenant_b, admin_a, admin_b):
    mine, theirs = make_usage(tenant_a), make_usage(tenant_b)
    body = signed_in(admin_a).get(reverse("console:logs")).content.decode()
    assert f'id="log-{mine.pk}"' in body and f'id="log-{theirs.pk}"' not in body
    other = signed_in(admin_b).get(reverse("console:logs")).content.decode()
    assert f'id="log-{mine.pk}"' not in other


@pytest.mark.django_db
def test_it_answers_404_for_another_tenant_log_detail(tenant_a, admin_b, admin_a):
    row = make_usage(tenant_a)
    assert signed_in(admin_b).get(reverse("console:log_detail", args=[row.pk])).status_code == 404
    assert signed_in(admin_a).get(reverse("console:log_detail", args=[row.pk])).status_code == 200


@pytest.mark.django_db
def test_it_pages_by_keyset_without_overlap(tenant_a, admin_a):
    now = timezone.now()
    same = now - timedelta(minutes=1)
    rows = [make_usage(tenant_a, created_at=same if i < 10 else now - timedelta(minutes=i)) for i in range(65)]
    client = signed_in(admin_a)
    seen, url, pages = [], reverse("console:logs"), 0
    while url:
        response = client.get(url)
        body = response.content.decode()
        seen += [r.pk for r in rows if f'id="log-{r.pk}"' in body]
        pages += 1
        marker = 'id="log-next" rel="next"'
        if marker not in body:
            break
        href = body[:body.index(marker)].rsplit('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        url = reverse("console:logs") + href
    assert pages == 2 and len(seen) == 65 and len(set(seen)) == 65


@pytest.mark.django_db
def test_it_filters_by_status_cache_route_key_and_time(tenant_a, admin_a):
    key_create(tenant=tenant_a, name="k1")
    key = ApiKey.objects.get(name="k1")
    ok = make_usage(tenant_a)
    failed = make_usage(tenant_a, status=503, error_code="upstream_unavailable")
    hit = make_usage(tenant_a, cache_status="hit", route="cached", key_id=key.pk)
    old = make_usage(tenant_a, created_at=timezone.now() - timedelta(days=3))
    client = signed_in(admin_a)

    def shown(params):
        body = client.get(reverse("console:logs"), params).content.decode()
        return {r.pk for r in (ok, failed, hit, old) if f'id="log-{r.pk}"' in body}

    assert shown({"status": "5xx"}) == {failed.pk}
    assert shown({"status": "200"}) == {ok.pk, hit.pk, old.pk}
    assert shown({"cache_status": "hit"}) == {hit.pk}
    assert shown({"route": "cached"}) == {hit.pk}
    assert shown({"key": key.pk}) == {hit.pk}
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert old.pk not in shown({"since": since})
    assert client.get(reverse("console:logs"), {"status": "bogus"}).status_code == 200


@pytest.mark.django_db
def test_it_shows_attempts_retries_and_fallbacks(tenant_a, admin_a):
    row = make_usage(tenant_a, attempts=3, attempt_log=[
        {"route": "chat", "provider": "a", "model": "m", "status": 503, "error": "upstream_5xx", "ms": 10},
        {"route": "chat", "provider": "a", "model": "m", "status": 503, "error": "upstream_5xx", "ms": 11},
        {"route": "backup", "provider": "b", "model": "n", "status": 200, "ms": 90},
    ])
    body = signed_in(admin_a).get(reverse("console:log_detail", args=[row.pk])).content.decode()
    assert "1 retry, 1 fallback" in body and "upstream_5xx" in body and str(row.cost_usd) in body
    assert 'id="attempts-table"' in body and "backup" in body


@pytest.mark.django_db
def test_it_limits_a_developer_to_their_own_keys(tenant_a):
    dev = User.objects.create_user(email="dev@a.test", password="x-unused-pw-1")
    Membership.objects.create(tenant=tenant_a, user=dev, role=Role.DEVELOPER)
    key_create(tenant=tenant_a, name="mine", owner=dev)
    mine = make_usage(tenant_a, key_id=ApiKey.objects.get(name="mine").pk)
    other = make_usage(tenant_a, key_id=None)
    client = signed_in(dev)
    body = client.get(reverse("console:logs")).content.decode()
    assert f'id="log-{mine.pk}"' in body and f'id="log-{other.pk}"' not in body
    assert client.get(reverse("console:log_detail", args=[other.pk])).status_code == 404


@pytest.mark.django_db
def test_it_keeps_the_log_query_count_fixed_as_rows_grow(tenant_a, admin_a):
    client, url = signed_in(admin_a), reverse("console:logs")

    def grow(start, count):
        for i in range(start, start + count):
            key_create(tenant=tenant_a, name=f"lk{i}")
            make_usage(tenant_a, key_id=ApiKey.objects.get(name=f"lk{i}").pk)

    grow(0, 3)
    few = queries(client, url)
    grow(3, 30)
    assert queries(client, url) == few
