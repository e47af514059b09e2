"""API routes of access requests: the catalog, requests, approvals and tasks."""

from rest_framework.routers import SimpleRouter

from apps.access_requests.api import (
    ApprovalViewSet,
    RequestTypeViewSet,
    RequestViewSet,
    TaskViewSet,
)

router = SimpleRouter()
router.register("request-types", RequestTypeViewSet, basename="request-type")
router.register("requests", RequestViewSet, basename="access-request")
router.register("approvals", ApprovalViewSet, basename="approval")
router.register("tasks", TaskViewSet, basename="task")
urlpatterns = router.urls
