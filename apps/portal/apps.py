from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The employee, manager and assignee web pages."""

    name = "apps.portal"
    label = "portal"
    verbose_name = "Portal"
