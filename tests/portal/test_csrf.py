"""Every unsafe portal request needs the CSRF token, with an enforcing client."""
import pytest
from django.test import Client
from django.urls import reverse

from tests.console.conftest import row_counts
from tests.portal.cases import CASES
from tests.portal.test_isolation import names, url_for


@pytest.mark.django_db
@pytest.mark.parametrize("name", names())
def test_it_rejects_posts_without_the_csrf_token(name, tenant_a, admin_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_a)
    url = url_for(name, tenant_a, admin_a)
    before = row_counts()
    response = client.post(url, data={"name": "no-token", "email": "admin@a.test", "password": "x",
                                      "password1": "Long-enough-pw-42", "password2": "Long-enough-pw-42"})
    assert response.status_code == 403, (url, response.status_code)
    assert b"CSRF" in response.content
    assert row_counts() == before


@pytest.mark.django_db
def test_it_accepts_a_post_with_the_token(tenant_a, admin_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_a)
    token = client.get(reverse("portal:key_create")).cookies["csrftoken"].value
    response = client.post(reverse("portal:key_create"), {"name": "with-token", "csrfmiddlewaretoken": token})
    assert response.status_code == 200 and b"key-secret" in response.content


def test_it_has_a_case_for_csrf_on_every_url():
    assert set(names()) == set(CASES)
