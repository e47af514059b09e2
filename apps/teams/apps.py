from django.apps import AppConfig


class TeamsConfig(AppConfig):
    """Teams of people who work on requests, and how a request is assigned to one of them."""

    name = "apps.teams"
    label = "teams"
    verbose_name = "Teams"

    def ready(self) -> None:
        from apps.teams import events  # noqa: F401  (registers the event types)
