"""Template tags about the static files that are optional at install time."""
from django import template
from django.contrib.staticfiles import finders

register = template.Library()


@register.simple_tag
def static_available(path):
    """Whether a static finder has `path`: Chart.js (static/vendor/) is installed only where npm is."""
    return finders.find(path) is not None
