"""What schemathesis (tests/reliability/test_schemathesis.py) found in the admin API, pinned down."""
import pytest
from django.test import Client

from tests.conftest import client_for
from tests.console.conftest import signed_in


@pytest.mark.django_db
def test_it_answers_options_on_a_csv_report_with_json(admin_a, tenant_a):
    # Was a 500: the CSV renderer was handed DRF's OPTIONS metadata and raised KeyError.
    response = client_for(admin_a).options(f"/api/v1/reports/cost/?format=csv&tenant={tenant_a.pk}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json") and response.json()["name"]


@pytest.mark.django_db
def test_it_answers_an_unrouted_api_path_with_the_json_envelope(admin_a):
    # An id with a dot does not match the router's pattern: Django's HTML 404 page before.
    for path in ("/api/v1/budgets/1.5/", "/api/v1/no-such-thing/", "/api/v1/statements/x/%0A/"):
        response = client_for(admin_a).get(path)
        assert response.status_code == 404, path
        assert response.json() == {"error": {"code": "not_found", "message": "not found"}}, path


@pytest.mark.django_db
def test_it_keeps_django_pages_and_the_trailing_slash_redirect_outside_the_envelope(admin_a):
    assert client_for(admin_a).get("/api/v1/providers").status_code == 301  # APPEND_SLASH, as before
    page = Client().get("/console/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_it_refuses_a_non_ascii_digit_as_an_id_with_400(admin_a, tenant_a):
    # '²'.isdigit() is True but int('²') raises: each of these was a 500.
    client = client_for(admin_a)
    for path in (f"/api/v1/reports/focus.csv?team=%C2%B2&tenant={tenant_a.slug}", "/api/v1/audit-events/?tenant=%C2%B2",
                 "/api/v1/price-overrides/?provider=%C2%B2", "/api/v1/alerts/?budget=%C2%B2"):
        response = client.get(path)
        assert response.status_code == 400, (path, response.status_code)
        assert response.json()["error"]["code"] == "invalid", path


@pytest.mark.django_db
def test_it_refuses_a_non_ascii_digit_in_the_console_log_filter(admin_a):
    response = signed_in(admin_a).get("/console/logs/?status=%C2%B2")  # was a 500 (int('²'))
    assert response.status_code == 200 and "2xx, 4xx, 5xx, error or a status code" in response.content.decode()
