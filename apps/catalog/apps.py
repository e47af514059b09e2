from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """Configuration lists (Buildings, Cost centres...) that request types offer as choices."""

    name = "apps.catalog"
    label = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from apps.catalog import events  # noqa: F401  (registers the event types)
