"""Encryption at rest for provider credentials (Fernet: AES-128-CBC + HMAC).

The key comes from SWITCHYARD_ENCRYPTION_KEY (any string; it is stretched with
SHA-256 into a Fernet key). Old keys listed in SWITCHYARD_ENCRYPTION_KEYS_OLD
still decrypt, so keys can be rotated by re-saving the rows.
"""
import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


def _fernet_key(material):
    return base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest())


@lru_cache(maxsize=4)
def _cipher(current, old):
    return MultiFernet([Fernet(_fernet_key(k)) for k in (current, *old)])


def cipher():
    return _cipher(settings.ENCRYPTION_KEY, tuple(settings.ENCRYPTION_KEYS_OLD))


def encrypt(plaintext):
    return cipher().encrypt(plaintext.encode()).decode()


def decrypt(token):
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        # Never echo the token: say only that the key does not fit.
        raise ValueError("stored secret cannot be decrypted with the configured encryption keys") from None


class EncryptedTextField(models.TextField):
    """Holds plaintext in Python and a Fernet token in the database."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)
