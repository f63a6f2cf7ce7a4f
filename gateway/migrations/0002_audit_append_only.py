"""On PostgreSQL, the database itself refuses UPDATE and DELETE on the audit log."""
from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION switchyard_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'gateway_auditevent is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER gateway_auditevent_append_only
    BEFORE UPDATE OR DELETE ON gateway_auditevent
    FOR EACH ROW EXECUTE FUNCTION switchyard_audit_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS gateway_auditevent_append_only ON gateway_auditevent;
DROP FUNCTION IF EXISTS switchyard_audit_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("gateway", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
