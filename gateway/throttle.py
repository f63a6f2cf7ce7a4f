"""One throttle for every form that checks a password: per client IP and per account.

The console and portal sign-in, the Django admin's sign-in and its password change all count
here, in the shared cache (Redis in production), so every replica counts together. Each
attempt counts before the password is checked, so a throttled caller learns nothing, not even
from the right password. Fixed windows: simple, and the limits are far below what guessing needs.
"""
import functools
import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

from gateway.client_address import client_ip

WINDOW_SECONDS = 3600  # the window of both limits; also the 429's Retry-After
IP_ATTEMPTS_PER_WINDOW = 20  # RELIABILITY.md B10's figure, the console's since the start
# Per account, whichever addresses the attempts come from. A person who mistypes gets ten tries
# an hour; a guesser spread over many addresses gets 240 a day, hopeless against the length and
# common-password validators. The price of any per-account limit: a stranger can block an
# account's password sign-in for up to an hour (API keys keep working).
ACCOUNT_ATTEMPTS_PER_WINDOW = 10


def normalised_account(identifier):
    """The account an attempt is aimed at: e-mail addresses are stored lowercased (UserManager)."""
    return (identifier or "").strip().lower()


def _count(key):
    cache.add(key, 0, WINDOW_SECONDS)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr: the first attempt of a new window
        cache.set(key, 1, WINDOW_SECONDS)
        return 1


def _limit(name, default):
    # Overridable in settings for browser-test runs that sign in more often than a person would.
    return getattr(settings, name, default)


def allow_password_attempt(request, account):
    """Count one attempt from this client at `account`; False once either allowance is spent."""
    from_ip = _count(f"sy:pw:ip:{client_ip(request)}")
    allowed = from_ip <= _limit("PASSWORD_ATTEMPTS_PER_IP", IP_ATTEMPTS_PER_WINDOW)
    account = normalised_account(account)
    if account:
        # Hashed: the cache holds no e-mail addresses.
        digest = hashlib.sha256(account.encode()).hexdigest()
        at_account = _count(f"sy:pw:account:{digest}")
        allowed = allowed and at_account <= _limit("PASSWORD_ATTEMPTS_PER_ACCOUNT", ACCOUNT_ATTEMPTS_PER_WINDOW)
    return allowed


def with_retry_after(response):
    response["Retry-After"] = str(WINDOW_SECONDS)
    return response


def too_many_attempts():
    """The 429 of forms that have no page of their own for it (the Django admin's)."""
    return with_retry_after(HttpResponse("Too many password attempts. Try again in an hour.\n", status=429,
                                         content_type="text/plain; charset=utf-8"))


def throttled_post(view, account_of):
    """Wrap a password-checking view: each POST counts, and a spent allowance answers 429."""
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "POST" and not allow_password_attempt(request, account_of(request)):
            return too_many_attempts()
        return view(request, *args, **kwargs)

    return wrapper
