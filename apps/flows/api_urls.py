"""API routes of the flow engine: flows to run, and runs with their history."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.flows.api import FlowRunViewSet, FlowViewSet
from apps.flows.hooks_api import HookView

router = SimpleRouter()
router.register("flows", FlowViewSet, basename="flow")
router.register("flow-runs", FlowRunViewSet, basename="flow-run")
urlpatterns = [
    *router.urls,
    path("hooks/<slug:slug>/", HookView.as_view(), name="flow-hook"),
]
