"""The developer portal in a real browser: a developer signs in, creates a key (secret shown once)
and that key works with the openai SDK against the data plane; portal pages have no JavaScript errors."""
import openai
import pytest
from playwright.sync_api import expect

from gateway.models import Provider, Role, Route, Tenant
from gateway.services.routes import route_save
from tests.browser.conftest import sign_in, wait_until_key_is_live
from tests.conftest import make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(transactional_db):
    return Tenant.objects.create(slug="acme", name="Acme")


@pytest.fixture
def chat_routes(tenant):
    provider = Provider.objects.create(name="mocky", kind="mock", tenant=tenant)
    return {name: route_save(Route(name=name, tenant=tenant), targets=[(provider, "mock-1", 1)])
            for name in ("dev-chat", "other-chat")}


def test_developer_creates_a_key_in_the_portal_that_works_with_the_openai_sdk(page, gateway_server, tenant,
                                                                               chat_routes):
    make_member(tenant, "dev@acme.test", Role.DEVELOPER)
    sign_in(page, gateway_server.url, "dev@acme.test", "pw-dev@acme.test", area="portal")
    page.locator("#nav-keys").click()
    expect(page.locator("#keys-empty")).to_be_visible()
    page.locator("#key-new").click()
    page.locator("#id_name").fill("my-laptop")
    page.locator("#id_routes").select_option(str(chat_routes["dev-chat"].pk))  # allowed routes: only dev-chat
    page.locator("#key-submit").click()
    expect(page.locator("h1")).to_contain_text("Key created: my-laptop")
    secret = page.locator("#key-secret").input_value()
    assert len(secret) >= 20, secret

    # Shown once: the key list never shows it again.
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
    # The allowed-routes choice made in the portal is enforced by the data plane.
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model="other-chat", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code in (403, 404), refused.value


PORTAL_PAGES = ["", "keys/", "keys/new/", "catalogue/", "playground/", "usage/"]


def test_portal_pages_have_no_javascript_errors(page, gateway_server, tenant, chat_routes):
    make_member(tenant, "dev@acme.test", Role.DEVELOPER)
    sign_in(page, gateway_server.url, "dev@acme.test", "pw-dev@acme.test", area="portal")
    for path in PORTAL_PAGES:
        response = page.goto(f"{gateway_server.url}/portal/{path}")
        assert response.status == 200, (path, response.status)
        page.wait_for_load_state("load")
    assert len(page.js_errors.visited) >= len(PORTAL_PAGES)
    page.js_errors.assert_clean()
