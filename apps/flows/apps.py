from django.apps import AppConfig


class FlowsConfig(AppConfig):
    """The automation engine: flows, cards, runs with history, tables."""

    name = "apps.flows"
    label = "flows"
    verbose_name = "Flows"

    def ready(self) -> None:
        from apps.audit.subscribers import register_subscriber
        from apps.core import schedules
        from apps.flows import (  # noqa: F401  (cards, events, receivers)
            cards,
            events,
            run_actor,
            scheduling,
            stored_connections,
        )
        from apps.flows.connections import register_connection_resolver
        from apps.flows.subscriptions import wants

        register_connection_resolver(stored_connections.resolve)
        register_subscriber("apps.flows.services.start_event_flows", wants=wants)

        schedules.register(
            schedules.Recurring(
                "flows: take up runs whose worker was lost",
                "apps.flows.tasks.take_up_lost_runs",
                1,
            )
        )
