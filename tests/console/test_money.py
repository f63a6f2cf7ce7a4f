"""Budgets and price overrides through the console, validated by the models' own rules."""
import pytest
from django.urls import reverse

from billing.models import Budget, PriceOverride
from tests.factories import make_provider, make_team


@pytest.mark.django_db
def test_it_creates_a_team_budget(admin_client, tenant_a):
    team = make_team(tenant_a, "ml")
    data = {"scope": "team", "team": team.pk, "amount_usd": "25", "period": "monthly", "action": "block",
            "alert_thresholds": "50, 90"}
    assert admin_client.post(reverse("console:budget_create"), data).status_code == 302
    budget = Budget.objects.get(tenant=tenant_a)
    assert budget.team == team and budget.alert_thresholds == [50, 90]


@pytest.mark.django_db
def test_it_requires_the_subject_of_a_scope(admin_client, tenant_a):
    data = {"scope": "team", "amount_usd": "25", "period": "monthly", "action": "block"}
    assert admin_client.post(reverse("console:budget_create"), data).status_code == 400


@pytest.mark.django_db
def test_it_creates_a_price_override(admin_client, tenant_a):
    provider = make_provider(tenant_a, "priced")
    data = {"provider": provider.pk, "model": "m-1", "unit": "token", "input_per_mtok": "1.5",
            "output_per_mtok": "3", "valid_from": "2030-01-01T00:00"}
    response = admin_client.post(reverse("console:price_create"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert PriceOverride.objects.get(tenant=tenant_a).model == "m-1"
    data["valid_from"] = "2030-02-01T00:00"
    assert admin_client.post(reverse("console:price_create"), data).status_code == 400  # overlapping window
