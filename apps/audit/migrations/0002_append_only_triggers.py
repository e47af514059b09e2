"""Make the system log append-only in the database too, not only in Python.

PostgreSQL refuses UPDATE and DELETE on each row (TRUNCATE, used by test flushes and by a
deliberate purge, is a table-level statement and stays possible). SQLite refuses UPDATE; its
DELETE stays open because Django's test flush deletes rows one statement at a time there.
"""

from django.db import migrations

POSTGRES_FORWARD = """
CREATE OR REPLACE FUNCTION audit_systemlogevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the system log is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_systemlogevent_append_only
    BEFORE UPDATE OR DELETE ON audit_systemlogevent
    FOR EACH ROW EXECUTE FUNCTION audit_systemlogevent_append_only();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS audit_systemlogevent_append_only ON audit_systemlogevent;
DROP FUNCTION IF EXISTS audit_systemlogevent_append_only();
"""
SQLITE_FORWARD = """
CREATE TRIGGER audit_systemlogevent_no_update BEFORE UPDATE ON audit_systemlogevent
BEGIN SELECT RAISE(ABORT, 'the system log is append-only (UPDATE refused)'); END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS audit_systemlogevent_no_update;"


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKWARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
