"""The console in a real browser: an admin configures a provider and a route and streams an answer
through "try it"; a developer creates a key whose secret works with the openai SDK; no page has
JavaScript errors."""
import re

import openai
import pytest
from playwright.sync_api import expect

from gateway.models import Provider, Role, Route, Tenant
from gateway.services.keys import key_create
from gateway.services.routes import route_save
from tests.browser.conftest import sign_in, wait_until_key_is_live
from tests.conftest import make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PROMPT = "Browser test: stream me a reply please"


@pytest.fixture
def tenant(transactional_db):
    return Tenant.objects.create(slug="acme", name="Acme")


def test_admin_adds_provider_and_route_then_streams_with_try_it(page, gateway_server, tenant):
    make_member(tenant, "admin@acme.test", Role.ADMIN)
    _key, secret = key_create(tenant=tenant, name="try-it")
    base = gateway_server.url
    sign_in(page, base, "admin@acme.test", "pw-admin@acme.test")

    # A provider of the built-in mock kind (no key, no base URL).
    page.locator("#nav-providers").click()
    page.locator("#provider-new").click()
    page.locator("#id_name").fill("mocky")
    page.locator("#id_kind").select_option("mock")
    page.locator("#save").click()
    expect(page.locator("#providers-table")).to_contain_text("mocky")
    provider = Provider.objects.get(tenant=tenant, name="mocky")

    # A route with one target on it.
    page.locator("#nav-routes").click()
    page.locator("#route-new").click()
    page.locator("#id_name").fill("browser-chat")
    page.get_by_label("Provider of target 1").select_option(str(provider.pk))
    page.get_by_label("Upstream model of target 1").fill("mock-1")
    page.get_by_label("Weight of target 1").fill("1")
    page.locator("#save").click()
    row = page.locator("#routes-table tr", has_text="browser-chat")
    expect(row).to_contain_text("mocky:mock-1")
    assert Route.objects.filter(tenant=tenant, name="browser-chat").exists()

    # The route's page, and "try it" with a key of this tenant.
    row.get_by_role("link", name="browser-chat").click()
    expect(page.locator("h1")).to_contain_text("browser-chat")
    wait_until_key_is_live(gateway_server, secret, "browser-chat")
    page.get_by_label("API key").fill(secret)
    page.get_by_label("Message").fill(PROMPT)
    page.locator("#try-send").click()
    expect(page.locator("#try-status")).to_have_text("Done.")
    expect(page.locator("#try-output")).to_have_text(re.compile(r"^mock reply to: " + re.escape(PROMPT[:40])))
    page.js_errors.assert_clean()


def test_try_it_shows_the_data_plane_error_for_a_bad_key(page, gateway_server, tenant):
    make_member(tenant, "admin@acme.test", Role.ADMIN)
    provider = Provider.objects.create(name="mocky", kind="mock", tenant=tenant)
    route = route_save(Route(name="browser-chat", tenant=tenant), targets=[(provider, "mock-1", 1)])
    sign_in(page, gateway_server.url, "admin@acme.test", "pw-admin@acme.test")
    page.goto(f"{gateway_server.url}/console/routes/{route.pk}/")
    page.get_by_label("API key").fill("sy-not-a-real-key")
    page.locator("#try-send").click()
    expect(page.locator("#try-status")).to_contain_text("Error 401")
    expect(page.locator("#try-output")).to_have_text("")
    # A 401 from fetch() is logged by Chromium as a failed resource load; that one is expected.
    page.js_errors.errors = [e for e in page.js_errors.errors if "status of 401" not in e]
    page.js_errors.assert_clean()


def test_developer_creates_a_key_that_works_with_the_openai_sdk(page, gateway_server, tenant):
    make_member(tenant, "dev@acme.test", Role.DEVELOPER)
    provider = Provider.objects.create(name="mocky", kind="mock", tenant=tenant)
    route_save(Route(name="dev-chat", tenant=tenant), targets=[(provider, "mock-1", 1)])

    # No developer portal exists yet (/portal/ has no pages): the console's keys page is where developers self-serve.
    sign_in(page, gateway_server.url, "dev@acme.test", "pw-dev@acme.test")
    page.locator("#nav-keys").click()
    page.locator("#key-new").click()
    page.locator("#id_name").fill("my-laptop")
    page.locator("#save").click()
    expect(page.locator("h1")).to_contain_text("Key created: my-laptop")
    secret = page.locator("#key-secret").input_value()
    assert secret.startswith("sy-") or len(secret) >= 20, secret

    # Shown once: the keys list never shows it again.
    page.locator("#back-to-keys").click()
    expect(page.locator("#keys-table")).to_contain_text("my-laptop")
    assert secret not in page.content()
    page.js_errors.assert_clean()

    wait_until_key_is_live(gateway_server, secret, "dev-chat")
    client = openai.OpenAI(base_url=gateway_server.url + "/v1", api_key=secret, max_retries=0, timeout=20)
    reply = client.chat.completions.create(model="dev-chat", messages=[{"role": "user", "content": "hello sdk"}])
    assert reply.choices[0].message.content.startswith("mock reply to: hello sdk")
    stream = client.chat.completions.create(model="dev-chat", stream=True,
                                            messages=[{"role": "user", "content": "hello stream"}])
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text.startswith("mock reply to: hello stream")

    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=gateway_server.url + "/v1", api_key=secret + "x", max_retries=0).chat.completions.create(
            model="dev-chat", messages=[{"role": "user", "content": "hi"}])


ADMIN_PAGES = ["", "tenant/", "teams/", "teams/new/", "members/", "members/new/", "providers/", "providers/new/",
               "routes/", "routes/new/", "keys/", "keys/new/", "budgets/", "budgets/new/", "prices/", "prices/new/",
               "audit/"]


def test_console_pages_have_no_javascript_errors(page, gateway_server, tenant):
    make_member(tenant, "admin@acme.test", Role.ADMIN)
    provider = Provider.objects.create(name="mocky", kind="mock", tenant=tenant)
    route = route_save(Route(name="browser-chat", tenant=tenant), targets=[(provider, "mock-1", 1)])
    sign_in(page, gateway_server.url, "admin@acme.test", "pw-admin@acme.test")
    paths = ADMIN_PAGES + [f"providers/{provider.pk}/", f"routes/{route.pk}/", f"routes/{route.pk}/edit/"]
    for path in paths:
        response = page.goto(f"{gateway_server.url}/console/{path}")
        assert response.status == 200, (path, response.status)
        page.wait_for_load_state("load")
    # htmx in use: "add target" swaps in a row, "test connection" fills its result.
    page.goto(f"{gateway_server.url}/console/routes/new/")
    page.locator("#add-target").click()
    expect(page.get_by_label("Provider of target 2")).to_be_visible()
    page.goto(f"{gateway_server.url}/console/providers/{provider.pk}/")
    page.locator("#provider-test").click()
    expect(page.locator("#provider-test-result")).not_to_be_empty()
    assert len(page.js_errors.visited) >= len(paths)
    page.js_errors.assert_clean()


# Pages added while the dashboards and finance work is in progress, each in its own test so one
# broken page does not hide the others.
@pytest.mark.parametrize("path", ["dashboard/", "logs/", "costs/"])
def test_reporting_pages_have_no_javascript_errors(page, gateway_server, tenant, path):
    make_member(tenant, "admin@acme.test", Role.ADMIN)
    sign_in(page, gateway_server.url, "admin@acme.test", "pw-admin@acme.test")
    response = page.goto(f"{gateway_server.url}/console/{path}")
    assert response.status == 200, (path, response.status)
    page.wait_for_load_state("networkidle")
    page.js_errors.assert_clean()
