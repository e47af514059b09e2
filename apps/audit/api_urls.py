"""API routes of the system log."""

from rest_framework.routers import SimpleRouter

from apps.audit.api import SystemLogEventViewSet

router = SimpleRouter()
router.register("system-log", SystemLogEventViewSet, basename="system-log")
urlpatterns = router.urls
