from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """Shared building blocks: state machines, recurring schedules, project commands."""

    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from apps.core.db import install_fork_guard
        from apps.core.schedules import ensure_schedules

        install_fork_guard()

        # Sent once per app with models; the queue's own app is the one whose table we fill.
        post_migrate.connect(ensure_schedules, dispatch_uid="core.ensure_schedules")
