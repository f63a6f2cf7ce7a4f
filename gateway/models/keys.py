"""Client API keys. Only a lookup prefix and an HMAC hash are stored."""
from django.conf import settings
from django.db import models
from django.utils import timezone

from gateway import keyhash
from gateway.models.tenants import Team, Tenant


class ApiKeyQuerySet(models.QuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))

    def for_secret(self, secret):
        """The usable key whose secret this is, or None (one constant-time compare per candidate)."""
        if not keyhash.looks_like_key(secret):
            return None
        for key in self.usable().filter(prefix=keyhash.lookup_prefix(secret)).select_related("owner", "tenant"):
            if keyhash.secret_matches(secret, key.secret_hash):
                return key
        return None


class ApiKey(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="api_keys")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    # Empty = every route the tenant can use.
    routes = models.ManyToManyField("gateway.Route", blank=True, related_name="api_keys")
    # {"rpm": int, "tpm": int, "max_parallel": int}; enforced by the data plane.
    limits = models.JSONField(default=dict, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["tenant_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], condition=models.Q(revoked_at__isnull=True), name="apikey_unique_live_name"
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.masked})"

    @property
    def masked(self):
        return keyhash.mask(self.prefix, self.last4)

    @property
    def is_usable(self):
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    def set_secret(self, secret):
        self.prefix = keyhash.lookup_prefix(secret)
        self.last4 = keyhash.last4(secret)
        self.secret_hash = keyhash.hash_secret(secret)
