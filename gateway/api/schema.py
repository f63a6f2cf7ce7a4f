"""The admin API's OpenAPI description beyond what drf-spectacular infers.

- `ApiKeyScheme`: `Authorization: Bearer sy-...` (gateway/api/authentication.py) as an HTTP
  bearer scheme, so Swagger UI's "Authorize" takes a key; without it the class was unknown
  (one warning per view) and only the session cookie was declared.
- `error_responses`: a postprocessing hook that documents the error envelope
  (gateway/api/errors.py) on every operation: 400 where a body or query is validated,
  401/403 everywhere, 404 where a path or query names an object, 409 on deletes.
"""
from drf_spectacular.extensions import OpenApiAuthenticationExtension

ERROR_SCHEMA = "Error"
DEPENDANT_SCHEMA = "Dependant"
WRITES = ("post", "put", "patch")
# Pagination parameters never answer 400 (DRF clamps or ignores a bad limit/offset).
LENIENT_PARAMETERS = {"limit", "offset"}

DESCRIPTIONS = {
    "400": "Invalid input: `fields` maps each field (or `non_field_errors`) to its messages.",
    "401": "No credentials, or an invalid, revoked or expired API key.",
    "403": "Your role in the object's tenant does not allow this (or a session without CSRF token).",
    "404": "Not found, or in a tenant you do not belong to.",
    "409": "Other objects still depend on this one: `dependants` names them; nothing was deleted.",
}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "gateway.api.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http", "scheme": "bearer", "bearerFormat": "sy-...",
            "description": "A Switchyard API key (`sy-...`); its owner acts, confined to the key's tenant.",
        }


def error_responses(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOKS entry: add the documented 4xx answers."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[DEPENDANT_SCHEMA] = _dependant_schema()
    schemas[ERROR_SCHEMA] = _error_schema()
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            responses = operation.setdefault("responses", {})
            for status in _error_statuses(path, method, operation):
                responses.setdefault(status, _response(status))
    return result


def _error_statuses(path, method, operation):
    statuses = ["401", "403"]
    queried = any(p.get("in") == "query" and p.get("name") not in LENIENT_PARAMETERS
                  for p in operation.get("parameters", []))
    if method in WRITES or queried:
        statuses.append("400")
    if "{" in path or queried:  # a path or a query parameter may name an object the caller cannot see
        statuses.append("404")
    if method == "delete":
        statuses.append("409")
    return statuses


def _response(status):
    return {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}},
    }


def _error_schema():
    detail = {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "e.g. invalid, not_authenticated, permission_denied, "
                                                      "not_found, protected"},
            "message": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": True, "description": "400 only"},
            "dependants": {"type": "array", "items": {"$ref": f"#/components/schemas/{DEPENDANT_SCHEMA}"},
                           "description": "409 only: the first of them"},
            "dependants_total": {"type": "integer", "description": "409 only"},
        },
    }
    return {"type": "object", "required": ["error"], "properties": {"error": detail}}


def _dependant_schema():
    return {
        "type": "object",
        "required": ["type", "id", "name"],
        "properties": {"type": {"type": "string"}, "id": {}, "name": {"type": "string"}},
    }
