"""One error envelope for the admin API: {"error": {"code", "message", "fields"?}}."""
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_handler


def exception_handler(exc, context):
    response = drf_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        body = {"code": "invalid", "message": "the request has invalid fields", "fields": data}
    else:
        code = getattr(exc, "default_code", "error")
        detail = data.get("detail", data) if isinstance(data, dict) else data
        body = {"code": code, "message": str(detail)}
    if response.status_code == status.HTTP_404_NOT_FOUND:
        body = {"code": "not_found", "message": "not found"}
    response.data = {"error": body}
    return response
