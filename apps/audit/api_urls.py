"""API routes of the system log."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.audit.api import SystemLogEventViewSet
from apps.audit.ingest_api import IngestView

router = SimpleRouter()
router.register("system-log", SystemLogEventViewSet, basename="system-log")
urlpatterns = [
    *router.urls,
    path("ingest/<slug:source>/", IngestView.as_view(), name="ingest"),
]
