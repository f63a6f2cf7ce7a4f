"""The audit log is append-only and its hash chain detects tampering (RELIABILITY.md B12)."""
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from gateway.models import AuditEvent, Team


@pytest.mark.django_db
def test_it_refuses_updates_and_deletes_through_the_orm(tenant_a):
    Team.objects.create(tenant=tenant_a, name="t")
    event = AuditEvent.objects.first()
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


@pytest.mark.django_db
def test_it_refuses_updates_and_deletes_in_sql(tenant_a):
    Team.objects.create(tenant=tenant_a, name="t")
    for sql in ("UPDATE gateway_auditevent SET action = 'x'", "DELETE FROM gateway_auditevent"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEvent.objects.exclude(action="x").count() == AuditEvent.objects.count() > 0


def _tamper(sql, params):
    """Bypass the trigger the way an attacker with table-owner rights could."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE gateway_auditevent DISABLE TRIGGER gateway_auditevent_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE gateway_auditevent ENABLE TRIGGER gateway_auditevent_append_only")


@pytest.mark.django_db
def test_it_verifies_an_intact_chain(tenant_a):
    for i in range(20):
        Team.objects.create(tenant=tenant_a, name=f"t{i}")
    call_command("audit_verify")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE gateway_auditevent SET object_repr = 'forged' WHERE id = %s",
        "DELETE FROM gateway_auditevent WHERE id = %s",
    ],
)
def test_it_detects_an_altered_or_removed_row(tenant_a, sql):
    for i in range(20):
        Team.objects.create(tenant=tenant_a, name=f"t{i}")
    middle = AuditEvent.objects.order_by("id")[10]
    _tamper(sql, [middle.pk])
    with pytest.raises(CommandError, match="audit chain broken"):
        call_command("audit_verify")
