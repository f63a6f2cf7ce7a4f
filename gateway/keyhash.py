"""Client API key secrets: generation, hashing and the one comparison.

A key looks like `sy-` + 43 url-safe characters (32 random bytes = 256 bits).
The database keeps only an 8-character lookup prefix, the last 4 characters
for display, and HMAC-SHA256(pepper, secret). Every check of a presented
secret goes through `secret_matches`, a single constant-time comparison.
Pure functions with no ORM use, so the data plane can call them too.
"""
import hashlib
import hmac
import secrets

from django.conf import settings

KEY_PREFIX = "sy-"
RANDOM_BYTES = 32  # 256 bits of entropy, RELIABILITY.md B1
LOOKUP_CHARS = 8  # enough to make prefix collisions rare, short enough to show


def generate_secret():
    return KEY_PREFIX + secrets.token_urlsafe(RANDOM_BYTES)


def lookup_prefix(secret):
    """The indexed, non-secret part used to find candidate rows."""
    return secret[: len(KEY_PREFIX) + LOOKUP_CHARS]


def last4(secret):
    return secret[-4:]


def hash_secret(secret, pepper=None):
    key = (pepper or settings.KEY_PEPPER).encode()
    return hmac.digest(key, secret.encode(), hashlib.sha256).hex()  # one-shot C HMAC: every request pays it


def looks_like_key(secret):
    # Bound the length so a hostile header cannot make us hash megabytes.
    return isinstance(secret, str) and secret.startswith(KEY_PREFIX) and 20 <= len(secret) <= 200


def secret_matches(secret, stored_hash, pepper=None):
    """The one constant-time comparison of a presented secret with a stored hash."""
    return hmac.compare_digest(hash_secret(secret, pepper), stored_hash)


def mask(prefix, tail):
    return f"{prefix}…{tail}"
