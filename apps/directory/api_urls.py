"""API routes of the directory app."""

urlpatterns: list = []
