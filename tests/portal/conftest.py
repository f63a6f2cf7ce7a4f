"""Portal fixtures: developers of tenant A (the console's helpers and the shared tenants are reused)."""
import pytest

from gateway.models import Role
from tests.conftest import make_member


@pytest.fixture
def dev_a(tenant_a):
    return make_member(tenant_a, "dev@a.test", Role.DEVELOPER)


@pytest.fixture
def dev_a2(tenant_a):
    """A second developer of the same tenant: their keys are not dev_a's business."""
    return make_member(tenant_a, "dev2@a.test", Role.DEVELOPER)
