"""Card families. Importing this package registers every card (done in FlowsConfig.ready)."""

from apps.flows.cards import (
    chat,  # noqa: F401
    control,  # noqa: F401
    dates,  # noqa: F401
    directory,  # noqa: F401
    email,  # noqa: F401
    http,  # noqa: F401
    lists,  # noqa: F401
    numbers,  # noqa: F401
    objects,  # noqa: F401
    tables,  # noqa: F401
    text,  # noqa: F401
)
