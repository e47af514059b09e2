from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo organisation (`manage.py seed_demo`). Top layer: nothing imports it."""

    name = "apps.demo"
    label = "demo"
    verbose_name = "Demo data"
