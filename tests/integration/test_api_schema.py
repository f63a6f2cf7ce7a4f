"""The OpenAPI schema: no generator warnings, the Bearer key declared, error answers documented
with the envelope the API really sends."""
import pytest
from django.core.management import call_command
from django.urls import reverse
from jsonschema import validate as validate_instance
from openapi_spec_validator import validate

from gateway.models import Provider
from tests.conftest import client_for
from tests.factories import make_route

ERROR_REF = "#/components/schemas/Error"


@pytest.fixture
def schema(admin_a):
    response = client_for(admin_a).get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _operations(schema):
    return [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()
            if method != "parameters"]


def _error_schema(schema):
    """The Error component with its one $ref inlined, for jsonschema."""
    error = schema["components"]["schemas"]["Error"]
    dependant = schema["components"]["schemas"]["Dependant"]
    detail = dict(error["properties"]["error"])
    detail["properties"] = {**detail["properties"], "dependants": {"type": "array", "items": dependant}}
    return {**error, "properties": {"error": detail}}


@pytest.mark.django_db
def test_it_generates_the_schema_without_warnings(tmp_path):
    # --fail-on-warn raises when drf-spectacular emitted any warning (21 kinds, 88 in all, before).
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").stat().st_size > 0


@pytest.mark.django_db
def test_it_declares_the_bearer_key_on_every_operation(schema):
    validate(schema)
    assert schema["components"]["securitySchemes"]["apiKeyAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "sy-...",
        "description": "A Switchyard API key (`sy-...`); its owner acts, confined to the key's tenant.",
    }
    operations = _operations(schema)
    assert operations and all({"apiKeyAuth": []} in op["security"] for _, _, op in operations)


@pytest.mark.django_db
def test_it_documents_the_error_responses_of_every_operation(schema):
    def ref(op, status):
        return op["responses"][status]["content"]["application/json"]["schema"]["$ref"]

    for path, method, op in _operations(schema):
        assert ref(op, "401") == ref(op, "403") == ERROR_REF, (path, method)
        if "{" in path:
            assert ref(op, "404") == ERROR_REF, (path, method)
        if method in ("post", "put", "patch"):
            assert ref(op, "400") == ERROR_REF, (path, method)
    assert ref(schema["paths"]["/api/v1/providers/{id}/"]["delete"], "409") == ERROR_REF


@pytest.mark.django_db
def test_it_answers_errors_in_the_documented_shape(schema, admin_a, tenant_a, api_client):
    error = _error_schema(schema)
    client = client_for(admin_a)
    provider = make_route(tenant_a, "chat").targets.get().provider
    answers = {
        400: client.post(reverse("provider-list"), {"kind": "nope"}, format="json"),
        401: api_client.get(reverse("provider-list"), HTTP_AUTHORIZATION="Bearer sy-unknown"),
        404: client.get(reverse("provider-detail", args=[provider.pk + 1000])),
        409: client.delete(reverse("provider-detail", args=[provider.pk])),
    }
    for status, response in answers.items():
        assert response.status_code == status, response.content
        validate_instance(response.json(), error)
    assert Provider.objects.filter(pk=provider.pk).exists()
