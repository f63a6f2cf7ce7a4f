"""`Authorization: Bearer sy-...`: the key's owner acts, confined to the key's tenant."""
from rest_framework import authentication, exceptions

from gateway.services.keys import key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != self.keyword or not secret:
            return None
        key = key_authenticate(secret.strip())
        if key is None or key.owner is None or not key.owner.is_active:
            # Same message for unknown, revoked, expired and ownerless keys.
            raise exceptions.AuthenticationFailed("invalid, revoked or expired API key")
        return key.owner, key

    def authenticate_header(self, request):
        return 'Bearer realm="switchyard"'


# Registers the OpenAPI description of this class (drf-spectacular needs it imported before a
# schema is generated; the module refers to the class by its path, so there is no cycle).
from gateway.api import schema  # noqa: E402,F401
