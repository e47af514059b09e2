"""PostgreSQL refuses TRUNCATE of the system log too (also when another table's TRUNCATE
CASCADE would reach it): a statement-level trigger raising before it, like the row triggers of
0002 for UPDATE and DELETE.

A deliberate purge is now an explicit, owner-only act: `ALTER TABLE audit_systemlogevent
DISABLE TRIGGER audit_systemlogevent_no_truncate`, then TRUNCATE, then ENABLE it again (the
test suite's flush between transactional tests does exactly this, tests/conftest.py). SQLite has
no TRUNCATE statement.
"""

from django.db import migrations

POSTGRES_FORWARD = """
CREATE TRIGGER audit_systemlogevent_no_truncate
    BEFORE TRUNCATE ON audit_systemlogevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_systemlogevent_append_only();
"""
POSTGRES_BACKWARD = (
    "DROP TRIGGER IF EXISTS audit_systemlogevent_no_truncate ON audit_systemlogevent;"
)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_systemlogevent_audit_newest_idx")]

    operations = [migrations.RunPython(forward, backward)]
