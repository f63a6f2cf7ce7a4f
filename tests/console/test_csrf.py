"""Every unsafe console request needs the CSRF token (RELIABILITY.md B10), with an enforcing client."""
import pytest
from django.test import Client
from django.urls import reverse

from tests.console.cases import CASES
from tests.console.conftest import row_counts
from tests.console.test_isolation import names, url_for


@pytest.mark.django_db
@pytest.mark.parametrize("name", names())
def test_it_rejects_posts_without_the_csrf_token(name, tenant_a, admin_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_a)
    url = url_for(name, tenant_a)
    before = row_counts()
    response = client.post(url, data={"name": "no-token", "email": "admin@a.test", "password": "x"})
    assert response.status_code == 403, (url, response.status_code)
    assert b"CSRF" in response.content
    assert row_counts() == before


@pytest.mark.django_db
def test_it_accepts_a_post_with_the_token(tenant_a, admin_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_a)
    page = client.get(reverse("console:team_create"))
    token = page.cookies["csrftoken"].value
    response = client.post(reverse("console:team_create"), {"name": "with-token", "csrfmiddlewaretoken": token})
    assert response.status_code == 302


@pytest.mark.django_db
def test_it_puts_the_csrf_token_in_hx_headers(admin_client):
    body = admin_client.get(reverse("console:providers")).content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in body


def test_it_has_a_case_for_csrf_on_every_url():
    assert set(names()) == set(CASES)
