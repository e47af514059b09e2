"""The recurring work `migrate` writes to django-q2's Schedule table: there, right, once."""

from __future__ import annotations

import inspect
import io

import pytest
from django.core.management import call_command
from django.utils.module_loading import import_string
from django_q.models import Schedule

pytestmark = pytest.mark.django_db

# name: (function, minutes between runs). Written out here, not read from the code under test.
EXPECTED = {
    "directory: remove expired grants": ("apps.directory.tasks.sweep_expired_grants", 1),
    "core: forget expired idempotency keys": (
        "apps.core.tasks.purge_expired_idempotency_keys",
        60,
    ),
    "flows: take up runs whose worker was lost": ("apps.flows.tasks.take_up_lost_runs", 1),
    "access requests: approval timeouts": ("apps.access_requests.tasks.approval_timeouts", 5),
    "access requests: inactivity expiry": (
        "apps.access_requests.tasks.expire_inactive_requests",
        60,
    ),
    "access requests: grant warnings and revocation": (
        "apps.access_requests.tasks.grant_expiry",
        1,
    ),
}


def schedules() -> dict[str, tuple[str, str, int, int]]:
    return {
        row.name: (row.func, row.schedule_type, row.minutes, row.repeats)
        for row in Schedule.objects.all()
    }


def migrate() -> None:
    call_command("migrate", verbosity=0, interactive=False, stdout=io.StringIO())


def test_migrate_writes_every_recurring_job_with_its_function_and_cadence():
    # The test database was built by `migrate`: its post-migrate hook wrote the schedules.
    assert schedules() == {
        name: (func, Schedule.MINUTES, minutes, -1) for name, (func, minutes) in EXPECTED.items()
    }


def test_migrating_again_duplicates_nothing_and_repairs_what_was_changed():
    before = schedules()
    Schedule.objects.filter(name="access requests: approval timeouts").update(minutes=30)
    Schedule.objects.filter(name="directory: remove expired grants").delete()

    migrate()
    migrate()

    assert schedules() == before
    assert Schedule.objects.count() == len(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_scheduled_function_imports_and_takes_no_arguments(name):
    func = Schedule.objects.get(name=name).func
    target = import_string(func)
    assert callable(target)
    inspect.signature(target).bind()  # the queue calls it with no arguments
