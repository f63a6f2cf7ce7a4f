"""The console's live request tail in a real browser: a request made during the test appears."""
import httpx
import pytest
from playwright.sync_api import expect

from gateway.models import Provider, Role, Route, Tenant
from gateway.services.keys import key_create
from gateway.services.routes import route_save
from tests.browser.conftest import sign_in, wait_until_key_is_live
from tests.conftest import make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_live_tail_shows_a_request_made_during_the_test(page, gateway_server):
    tenant = Tenant.objects.create(slug="acme", name="Acme")
    make_member(tenant, "admin@acme.test", Role.ADMIN)
    provider = Provider.objects.create(name="mocky", kind="mock", tenant=tenant)
    route_save(Route(name="tail-chat", tenant=tenant), targets=[(provider, "mock-1", 1)])
    _key, secret = key_create(tenant=tenant, name="tail-key")
    wait_until_key_is_live(gateway_server, secret, "tail-chat")  # this warm-up request is before the tail starts

    sign_in(page, gateway_server.url, "admin@acme.test", "pw-admin@acme.test")
    page.goto(gateway_server.url + "/console/logs/")
    page.locator("#tail-toggle").click()
    expect(page.locator("#tail-status")).to_contain_text("Live")
    expect(page.locator("#tail-rows tr")).to_have_count(0)

    response = httpx.post(gateway_server.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"},
                          json={"model": "tail-chat", "messages": [{"role": "user", "content": "tail me"}]},
                          timeout=10)
    assert response.status_code == 200, response.text

    row = page.locator("#tail-rows tr").first
    expect(row).to_contain_text("tail-chat")
    expect(row).to_contain_text("tail-key")
    expect(row).to_contain_text("200")
    expect(page.locator("#tail-rows tr")).to_have_count(1)

    page.locator("#tail-toggle").click()
    expect(page.locator("#tail-status")).to_have_text("Stopped.")
    page.js_errors.assert_clean()
