"""Top-level URL map: admin, API, health, and the portal at the root."""

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.flows.admin import card_reference
from config import api


def health(request):
    """Liveness probe for load balancers; touches no database."""
    return JsonResponse({"status": "ok"})


admin.site.site_header = "Gatehouse administration"
admin.site.site_title = "Gatehouse admin"
admin.site.index_title = "Configuration"

api_v1 = [
    path("", include("apps.directory.api_urls")),
    path("", include("apps.audit.api_urls")),
    path("", include("apps.access_requests.api_urls")),
    path("", include("apps.flows.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file (`?script`), not inline: the docs
    # run under the Content-Security-Policy, from local static files (the sidecar).
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html"),
        name="docs",
    ),
    re_path(r"^(?P<unmatched>[\s\S]*)$", api.not_found),  # last: what no route above matches
]

# A request that waited too long for a database connection is a 503; any other error a 500.
handler500 = "config.api.server_error"

urlpatterns = [
    # An admin page that belongs to no model: before the admin's own catch-all.
    path(
        "admin/flows/cards/",
        admin.site.admin_view(card_reference),
        name="flows-card-reference",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("healthz", health, name="health"),
    path("", include("apps.portal.urls", namespace="portal")),
]
