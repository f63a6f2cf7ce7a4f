"""Writes an AuditEvent for every change to an audited model.

Changes are captured with model signals so no code path (API, console,
apply_config, admin) can forget them. Snapshots hold only JSON-native values
and never a secret: encrypted fields appear as "<redacted>", key hashes not at all.
"""
from decimal import Decimal

from django.db import connection, models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from gateway.audit_context import current_actor
from gateway.crypto import EncryptedTextField
from gateway.models.audit import AuditEvent

REDACTED = "<redacted>"
# Never written to the log, even redacted (hashes, passwords, bookkeeping).
HIDDEN_FIELDS = {"secret_hash", "password", "last_login", "created_at", "updated_at", "last_used_at", "date_joined"}
# Serialises the hash chain on PostgreSQL; SQLite serialises writers itself.
AUDIT_LOCK_ID = 7_411_000_001


def _json_value(field, value):
    if isinstance(field, EncryptedTextField):
        return REDACTED if value else ""
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def snapshot(obj):
    data = {}
    for field in obj._meta.concrete_fields:
        if field.name in HIDDEN_FIELDS:
            continue
        data[field.attname] = _json_value(field, getattr(obj, field.attname))
    return data


def _tenant_id(obj):
    if hasattr(obj, "tenant_id"):
        return obj.tenant_id
    route = getattr(obj, "route", None)
    return route.tenant_id if route is not None else None


def audit_record(obj, action, before=None, after=None):
    user, label = current_actor()
    event = AuditEvent(
        actor=user if user is not None and user.pk else None,
        actor_label=label[:254],
        tenant_id=_tenant_id(obj),
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action=action,
        before=before,
        after=after,
    )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_LOCK_ID])
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        event.prev_hash = last or ""
        event.hash = event.compute_hash()
        event.save()
    return event


def _changed(before, after):
    return {k: v for k, v in after.items() if before.get(k) != v}


def _on_pre_save(sender, instance, **kwargs):
    if instance.pk is None or kwargs.get("raw"):
        instance._audit_before = None
        return
    old = sender._default_manager.filter(pk=instance.pk).first()
    instance._audit_before = snapshot(old) if old is not None else None


def _on_post_save(sender, instance, created, **kwargs):
    if kwargs.get("raw"):
        return
    after = snapshot(instance)
    before = getattr(instance, "_audit_before", None)
    if created or before is None:
        audit_record(instance, AuditEvent.Action.CREATE, None, after)
        return
    changed = _changed(before, after)
    if not changed:
        return  # an idempotent save is not a change
    action = getattr(instance, "_audit_action", None) or AuditEvent.Action.UPDATE
    audit_record(instance, action, {k: before.get(k) for k in changed}, changed)


def _on_pre_delete(sender, instance, **kwargs):
    instance._audit_deleted = snapshot(instance)


def _on_post_delete(sender, instance, **kwargs):
    audit_record(instance, AuditEvent.Action.DELETE, getattr(instance, "_audit_deleted", None), None)


def _on_m2m(sender, instance, action, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear") or (action != "post_clear" and not pk_set):
        return
    field = next(f for f in instance._meta.many_to_many if f.remote_field.through is sender)
    ids = sorted(getattr(instance, field.name).values_list("pk", flat=True))
    audit_record(instance, AuditEvent.Action.UPDATE, None, {field.name: ids})


def connect(models_to_audit):
    for model in models_to_audit:
        uid = f"audit-{model._meta.label_lower}"
        pre_save.connect(_on_pre_save, sender=model, dispatch_uid=uid + "-pre")
        post_save.connect(_on_post_save, sender=model, dispatch_uid=uid + "-post")
        pre_delete.connect(_on_pre_delete, sender=model, dispatch_uid=uid + "-predel")
        post_delete.connect(_on_post_delete, sender=model, dispatch_uid=uid + "-postdel")
        for field in model._meta.many_to_many:
            through = field.remote_field.through
            if isinstance(through, type) and issubclass(through, models.Model):
                m2m_changed.connect(_on_m2m, sender=through, dispatch_uid=f"{uid}-m2m-{field.name}")
