"""Recurring queue work, declared by each app and written to django-q2's Schedule table.

Apps list their schedules here (name, function, minutes between runs); `ensure_schedules()` runs
after every `migrate`, so a fresh database and an upgraded one both get them, exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recurring:
    """A function the queue runs every `minutes` minutes."""

    name: str
    func: str
    minutes: int


RECURRING = [
    Recurring("directory: remove expired grants", "apps.directory.tasks.sweep_expired_grants", 1),
    Recurring(
        "core: forget expired idempotency keys",
        "apps.core.tasks.purge_expired_idempotency_keys",
        60,
    ),
]


def register(recurring: Recurring) -> None:
    """Declare recurring work (from an AppConfig.ready); the next migrate writes it."""
    if all(existing.name != recurring.name for existing in RECURRING):
        RECURRING.append(recurring)


def ensure_schedules(sender=None, using="default", **kwargs) -> None:
    """Create or update each declared schedule by name (idempotent)."""
    if sender is not None and sender.name != "django_q":
        return
    from django_q.models import Schedule

    for recurring in RECURRING:
        Schedule.objects.using(using).update_or_create(
            name=recurring.name,
            defaults={
                "func": recurring.func,
                "schedule_type": Schedule.MINUTES,
                "minutes": recurring.minutes,
                "repeats": -1,
            },
        )
