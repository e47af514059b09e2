"""API routes of the flow engine: flows to run, runs with their history, stored connections."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.flows.api import FlowRunViewSet, FlowViewSet
from apps.flows.connections_api import ConnectionViewSet
from apps.flows.hooks_api import HookView

router = SimpleRouter()
router.register("flows", FlowViewSet, basename="flow")
router.register("flow-runs", FlowRunViewSet, basename="flow-run")
router.register("connections", ConnectionViewSet, basename="connection")
urlpatterns = [
    *router.urls,
    path("hooks/<slug:slug>/", HookView.as_view(), name="flow-hook"),
]
