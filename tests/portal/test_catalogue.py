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


@pytest.mark.django_db
def test_it_shows_the_price_a_call_would_pay_now(tenant_a, tenant_b, dev_a):
    """Negotiated prices in force for the developer's tenant (or everyone) replace list prices;
    another tenant's, expired and future ones do not."""
    from datetime import timedelta

    from django.utils import timezone

    from billing.models import PriceOverride

    ours, shared = make_route(tenant_a, "ours"), make_route(None, "shared-one")
    ours_target, shared_target = ours.targets.get(), shared.targets.get()
    now = timezone.now()

    def override(target, tenant, inp, out, **when):
        PriceOverride.objects.create(tenant=tenant, provider=target.provider, model=target.model,
                                     input_per_mtok=inp, output_per_mtok=out, **when)

    override(ours_target, tenant_a, "3.25", "4.5")
    override(ours_target, tenant_a, "99", "99", valid_from=now - timedelta(days=9), valid_to=now - timedelta(days=1))
    override(ours_target, tenant_a, "77", "77", valid_from=now + timedelta(days=1))
    override(shared_target, tenant_b, "55", "66")  # another tenant's contract: not ours
    body = signed_in(dev_a).get(reverse("portal:catalogue")).content.decode()
    row = body.split('id="route-ours"')[1].split("</tr>")[0]
    assert "<td>3.25</td>" in row and "4.5" in row and "negotiated" in row
    shared_row = body.split('id="route-shared-one"')[1].split("</tr>")[0]
    assert "55" not in shared_row and "66" not in shared_row and "negotiated" not in shared_row
    assert "99" not in body.split('id="route-ours"')[1] and "77" not in row
    override(shared_target, None, "1.5", "2", valid_from=now - timedelta(hours=1))  # everyone's, in force
    shared_row = signed_in(dev_a).get(reverse("portal:catalogue")).content.decode().split(
        'id="route-shared-one"')[1].split("</tr>")[0]
    assert "<td>1.5</td>" in shared_row and "negotiated" in shared_row
    # A route-scoped price beats a tenant's provider-wide one; an hourly deployment shows its hourly rate.
    PriceOverride.objects.create(route=ours, provider=ours_target.provider, model=ours_target.model, unit="hour",
                                 per_hour_usd="12.5")
    row = signed_in(dev_a).get(reverse("portal:catalogue")).content.decode().split('id="route-ours"')[1].split("</tr>")[0]
    assert "$12.5 per hour" in row and "3.25" not in row and "negotiated" in row
