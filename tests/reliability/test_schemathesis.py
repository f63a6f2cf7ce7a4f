"""schemathesis over /api/schema/: every admin API operation, fuzzed from its own schema, as a
tenant admin with an API key; no answer may be a server error (issue 14).

Stateless: each generated request stands alone. The key operations that would end the run's
own credentials (rotate, revoke, delete) are left out. In-process through Django's WSGI app,
so each example runs inside the test's database transaction. RELIABILITY_SCALE=full generates
more examples per operation than the ci default.
"""
from collections import Counter

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.models import Role
from gateway.services.keys import key_create
from tests.conftest import make_member
from tests.reliability import scale

# Examples per operation: ci keeps `make test` quick, full is `make reliability`.
EXAMPLES = {"ci": 8, "full": 60}[scale.current().name]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

WSGI = get_wsgi_application()


@pytest.fixture
def in_test_transaction():
    """As Django's test client does: the WSGI handler's request signals would otherwise close the
    test's connection at each request's end, inside its transaction (with the connection pool this
    hands the connection back to the pool mid-test, and the next query fails)."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture(scope="module")
def tally(module_report):
    """Examples sent and their statuses over every operation: one report row for the module."""
    counts = Counter()
    yield counts
    sent = sum(counts.values())
    served = sum(n for status, n in counts.items() if isinstance(status, int) and status < 400)
    errors = {status: n for status, n in counts.items() if isinstance(status, int) and status >= 400}
    module_report.record(f"schemathesis over /api/schema/ ({EXAMPLES} examples per operation)", sent=sent,
                         served=served, errors=errors, ok=counts["failed"] == 0,
                         figure=f"{counts['failed']} failed checks; answers >= 500: "
                                f"{sum(n for s, n in errors.items() if s >= 500)}")


@pytest.fixture
def admin_key(tenant_a, in_test_transaction):
    admin = make_member(tenant_a, "fuzz-admin@a.test", Role.ADMIN)
    _key, secret = key_create(tenant=tenant_a, name="fuzz", owner=admin)
    return secret


schema = (
    schemathesis.openapi.from_wsgi("/api/schema/", WSGI)
    .exclude(path_regex=r"^/api/v1/keys/\{id\}/(rotate|revoke)/$")
    .exclude(path_regex=r"^/api/v1/keys/\{id\}/$", method="DELETE")
)


@pytest.mark.reliability
@pytest.mark.django_db
@schema.parametrize()
# derandomize: the same examples every run, so a red run is reproducible and CI is not flaky.
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_it_answers_every_fuzzed_api_request_without_a_server_error(case, admin_key, tally):
    try:
        response = case.call_and_validate(headers={"Authorization": f"Bearer {admin_key}"}, checks=CHECKS)
    except Exception:
        tally["failed"] += 1
        raise
    tally[response.status_code] += 1
