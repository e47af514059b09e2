from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The system log: the floor every other app stands on."""

    name = "apps.audit"
    label = "audit"
    verbose_name = "System log"

    def ready(self) -> None:
        from apps.audit import events  # noqa: F401  (registers the event types)
