from django.apps import AppConfig


class AccessRequestsConfig(AppConfig):
    """Request types, requests, approvals, tasks, time-bound grants and the timeline."""

    name = "apps.access_requests"
    label = "access_requests"
    verbose_name = "Access requests"

    def ready(self) -> None:
        from apps.access_requests import events, signals  # noqa: F401
