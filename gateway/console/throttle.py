"""Sign-in throttling: at most 20 attempts per client IP per hour (RELIABILITY.md B10).

A fixed window in the shared cache (Redis in production), so every replica counts together.
"""
from django.conf import settings
from django.core.cache import cache

ATTEMPTS_PER_WINDOW = 20  # B10's figure
WINDOW_SECONDS = 3600


def _key(ip):
    return f"sy:console:login:{ip}"


def allow_login_attempt(request):
    """Count one attempt from this request's address; False once the window's allowance is spent."""
    key = _key(request.META.get("REMOTE_ADDR", "unknown"))
    cache.add(key, 0, WINDOW_SECONDS)
    try:
        attempts = cache.incr(key)
    except ValueError:  # expired between add and incr: this is the first attempt of a new window
        cache.set(key, 1, WINDOW_SECONDS)
        attempts = 1
    # Overridable for browser-test runs that sign in more often than a person would.
    return attempts <= getattr(settings, "CONSOLE_LOGIN_ATTEMPTS_PER_HOUR", ATTEMPTS_PER_WINDOW)
