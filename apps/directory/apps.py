from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    """People, groups, applications and their memberships."""

    name = "apps.directory"
    label = "directory"
    verbose_name = "Directory"

    def ready(self) -> None:
        from apps.directory import events, signals  # noqa: F401  (event types, login events)
