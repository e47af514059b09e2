"""The portal's URLs, at the site root under the namespace `portal`."""

from django.contrib.auth import views as auth_views
from django.urls import path

from apps.portal import token_views, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="portal:login"), name="logout"),
    path("catalog/", views.catalog, name="catalog"),
    path("catalog/<int:type_id>/request/", views.request_new, name="request-new"),
    path("requests/", views.my_requests, name="my-requests"),
    path("requests/<int:pk>/", views.request_detail, name="request-detail"),
    path("requests/<int:pk>/cancel/", views.request_cancel, name="request-cancel"),
    path("requests/<int:pk>/comment/", views.request_comment, name="request-comment"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/decide/", views.approval_decide, name="approval-decide"),
    path("approvals/link/<str:token>/", views.approval_link, name="approval-link"),
    path("tasks/", views.tasks, name="tasks"),
    path("tasks/<int:pk>/complete/", views.task_complete, name="task-complete"),
    path("delegations/", views.delegations, name="delegations"),
    path("delegations/<int:pk>/end/", views.delegation_end, name="delegation-end"),
    path("tokens/", token_views.api_tokens, name="api-tokens"),
    path("tokens/<int:pk>/revoke/", token_views.api_token_revoke, name="api-token-revoke"),
]
