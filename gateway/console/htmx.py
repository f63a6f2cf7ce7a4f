"""Full page or htmx partial: one view, two templates, and a Vary header so caches keep them apart."""
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from gateway.console.nav import nav_context


def htmx_partial(request, full, partial):
    """The template to render: `partial` (templates/htmx/) for htmx requests, else the full page."""
    return partial if getattr(request, "htmx", False) else full


def render_page(request, full, partial=None, context=None, status=200):
    context = {**nav_context(request), **(context or {})}
    template = htmx_partial(request, full, partial) if partial else full
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
