"""Chart.js is optional (`make install` without npm): the dashboard then says so where the charts would be."""
import pytest
from django.urls import reverse

from tests.console.conftest import signed_in
from tests.console.ledger import make_usage
from tests.console.test_dashboards import _rollup

CHART_JS = "vendor/chart.umd.js"


def _dashboard(settings, static_dir, admin, tenant):
    settings.STATICFILES_DIRS = [static_dir]  # Django's test signal resets the static finders
    make_usage(tenant)
    _rollup()
    return signed_in(admin).get(reverse("console:dashboard")).content.decode()


@pytest.mark.django_db
def test_it_shows_a_note_instead_of_the_charts_without_chart_js(settings, tmp_path, tenant_a, admin_a):
    body = _dashboard(settings, tmp_path, admin_a, tenant_a)
    assert 'id="dashboard-no-charts"' in body and "make install" in body
    assert CHART_JS not in body  # no script tag that would 404
    assert "<canvas" not in body
    assert 'id="dashboard-table"' in body and "<details open>" in body  # the figures stay readable


@pytest.mark.django_db
def test_it_draws_the_charts_when_chart_js_is_installed(settings, tmp_path, tenant_a, admin_a):
    (tmp_path / "vendor").mkdir()
    (tmp_path / CHART_JS).write_text("/* Chart.js */")
    body = _dashboard(settings, tmp_path, admin_a, tenant_a)
    assert CHART_JS in body and "<canvas" in body
    assert 'id="dashboard-no-charts"' not in body
