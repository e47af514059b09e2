"""API routes of the flow engine: flows to run, and runs with their history."""

from rest_framework.routers import SimpleRouter

from apps.flows.api import FlowRunViewSet, FlowViewSet

router = SimpleRouter()
router.register("flows", FlowViewSet, basename="flow")
router.register("flow-runs", FlowRunViewSet, basename="flow-run")
urlpatterns = router.urls
