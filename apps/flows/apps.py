from django.apps import AppConfig


class FlowsConfig(AppConfig):
    """The automation engine: flows, cards, runs with history, tables."""

    name = "apps.flows"
    label = "flows"
    verbose_name = "Flows"

    def ready(self) -> None:
        from apps.core import schedules
        from apps.flows import cards, events, run_actor, stored_connections  # noqa: F401  (cards, events, receiver)
        from apps.flows.connections import register_connection_resolver

        register_connection_resolver(stored_connections.resolve)

        schedules.register(
            schedules.Recurring(
                "flows: take up runs whose worker was lost",
                "apps.flows.tasks.take_up_lost_runs",
                1,
            )
        )
