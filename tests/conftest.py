"""Fixtures shared by every test folder."""

import pytest
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations

from tests.factories import UserFactory

# PostgreSQL refuses TRUNCATE of the system log (audit migration 0004). Django's flush between
# transactional tests truncates every table: let it, and only it, through, the way a deliberate
# purge would (the table owner disables the trigger for the one transaction).
_django_sql_flush = PostgresOperations.sql_flush


def _sql_flush_past_the_system_log_trigger(self, style, tables, **kwargs):
    statements = _django_sql_flush(self, style, tables, **kwargs)
    if "audit_systemlogevent" not in tables or not statements:
        return statements
    table = self.quote_name("audit_systemlogevent")
    return [
        f"ALTER TABLE {table} DISABLE TRIGGER audit_systemlogevent_no_truncate",
        *statements,
        f"ALTER TABLE {table} ENABLE TRIGGER audit_systemlogevent_no_truncate",
    ]


PostgresOperations.sql_flush = _sql_flush_past_the_system_log_trigger


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def user(db):
    return UserFactory()


from tests.mail import smtp_server  # noqa: E402,F401  (fixture)
from tests.queue import queue_cluster, redis_queue_cluster  # noqa: E402,F401  (fixtures)
