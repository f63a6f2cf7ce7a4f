"""One error envelope for the admin API: {"error": {"code", "message", "fields"?, "dependants"?}}."""
from django.http import JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler
from rest_framework.views import set_rollback

from gateway.services.dependants import BLOCKING_ERRORS, dependants_message, dependants_of


def exception_handler(exc, context):
    if isinstance(exc, BLOCKING_ERRORS):
        return _conflict(exc)
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


def _conflict(exc):
    """A delete that other objects still depend on (PROTECT/RESTRICT): 409, nothing deleted."""
    set_rollback()  # like DRF's own handler: an atomic request writes nothing
    dependants, total = dependants_of(exc)
    body = {
        "code": "protected", "message": dependants_message(dependants, total),
        "dependants": dependants, "dependants_total": total,
    }
    return Response({"error": body}, status=status.HTTP_409_CONFLICT)



def not_found(request, exception=None):
    """Django's handler404: under /api/ the envelope's JSON 404 (a path no route matches, e.g. an
    id with a dot, which the router's pattern excludes), elsewhere Django's own page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "not_found", "message": "not found"}}, status=404)
    return page_not_found(request, exception)
