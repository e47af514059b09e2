from django.apps import AppConfig


class FlowsConfig(AppConfig):
    """The automation engine: flows, cards, runs with history, tables."""

    name = "apps.flows"
    label = "flows"
    verbose_name = "Flows"

    def ready(self) -> None:
        from apps.flows import cards, events  # noqa: F401  (registers cards and event types)
