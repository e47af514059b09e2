"""Card families. Importing this package registers every card (done in FlowsConfig.ready)."""

from apps.flows.cards import control  # noqa: F401
