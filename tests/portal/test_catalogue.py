"""The API catalogue lists only the routes the developer may call, with quick-start snippets."""
import pytest
from django.urls import reverse

from gateway.models import Route
from tests.console.conftest import signed_in
from tests.factories import make_route


@pytest.mark.django_db
def test_it_lists_only_allowed_routes(tenant_a, tenant_b, dev_a, settings):
    settings.SITE_URL = "https://gw.example.test"
    make_route(tenant_a, "ours")
    make_route(None, "shared-one")
    make_route(tenant_b, "theirs")
    off = make_route(tenant_a, "switched-off")
    Route.objects.filter(pk=off.pk).update(enabled=False)
    body = signed_in(dev_a).get(reverse("portal:catalogue")).content.decode()
    assert 'id="route-ours"' in body and 'id="route-shared-one"' in body
    assert "theirs" not in body and "switched-off" not in body
    assert "https://gw.example.test/v1" in body
    for snippet in ("snippet-curl", "snippet-python", "snippet-javascript"):
        assert f'id="{snippet}"' in body
    assert "from openai import OpenAI" in body and reverse("api-docs") in body


@pytest.mark.django_db
def test_it_offers_only_allowed_routes_in_the_playground(tenant_a, tenant_b, dev_a):
    make_route(tenant_a, "ours")
    make_route(tenant_b, "theirs")
    body = signed_in(dev_a).get(reverse("portal:playground")).content.decode()
    assert 'value="ours"' in body and "theirs" not in body
    assert 'name="' not in body.split('id="playground"')[1].split("</form>")[0]  # nothing is submitted
