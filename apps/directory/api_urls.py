"""API routes of the directory, and the token sign-in every API client starts with."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.directory.api import ApplicationViewSet, GroupViewSet, UserViewSet
from apps.directory.token_api import OwnApiTokenViewSet, TokenSignInView

router = SimpleRouter()
router.register("users", UserViewSet, basename="user")
router.register("groups", GroupViewSet, basename="group")
router.register("applications", ApplicationViewSet, basename="application")
router.register("auth/tokens", OwnApiTokenViewSet, basename="api-token-own")

urlpatterns = [
    path("auth/token/", TokenSignInView.as_view(), name="api-token"),
    *router.urls,
]
