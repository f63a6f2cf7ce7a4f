"""The audit log: one row per control-plane change, chained by hash.

Rows are never updated or deleted by the application; each stores
sha256(previous hash || canonical row) so `manage.py audit_verify` can detect
an altered or removed row.
"""
import hashlib
import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"
        ROTATE = "rotate"
        REVOKE = "revoke"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # No FK constraints: the log outlives the users and tenants it mentions.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_label = models.CharField(max_length=254)
    tenant = models.ForeignKey(
        "gateway.Tenant", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    action = models.CharField(max_length=16, choices=Action.choices)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False, unique=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"]), models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"{self.actor_label} {self.action} {self.object_type}:{self.object_id}"

    def canonical(self):
        body = {
            "actor_id": self.actor_id,
            "actor_label": self.actor_label,
            "tenant_id": self.tenant_id,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "object_repr": self.object_repr,
            "action": self.action,
            "before": self.before,
            "after": self.after,
        }
        return json.dumps(body, sort_keys=True, cls=DjangoJSONEncoder, separators=(",", ":"))

    def compute_hash(self):
        return hashlib.sha256((self.prev_hash + self.canonical()).encode()).hexdigest()

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit events are append-only")
