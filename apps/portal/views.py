"""The portal's pages: catalog, request form, my requests, a request, approvals, tasks, delegation.

Views read through the selectors and change state only through the services, always on POST.
A request the viewer may not see does not exist for them (404); a refused action is a message.
"""

from __future__ import annotations

import json
import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.access_requests import chain, notifications, selectors, services
from apps.access_requests.models import (
    AccessRequest,
    Approval,
    ApprovalStatus,
    ApproverDelegation,
    RequestStatus,
    Task,
    TaskStatus,
)
from apps.core import idempotency
from apps.core.statemachine import IllegalTransition
from apps.portal.forms import (
    CancelForm,
    CommentForm,
    DecisionForm,
    DelegationForm,
    RequestForm,
    TaskCompleteForm,
    add_service_errors,
)
from apps.portal.presenters import answers_for_display, answers_for_many

PAGE_SIZE = 25
ONCE_TOKEN = "once-token"  # not a question key: those never hold a dash


def _page(request: HttpRequest, queryset, size: int = PAGE_SIZE):
    return Paginator(queryset, size).get_page(request.GET.get("page"))


def _refusal(error: Exception) -> str:
    """A one-line reason for a refused action, fit for a message."""
    if isinstance(error, IllegalTransition):
        return f"This request is {error.current} and can no longer be changed that way."
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or "You are not allowed to do this."


def _next_or(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


# --- Catalog and the request form -----------------------------------------------------------


@require_safe
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The portal starts at the catalog."""
    return redirect("portal:catalog")


@require_safe
@login_required
def catalog(request: HttpRequest) -> HttpResponse:
    """Request types offered to the viewer, with an optional search."""
    types = selectors.catalog_for(request.user).select_related(
        "resource_group", "resource_application", "resource_item"
    )
    query = request.GET.get("q", "").strip()
    if query:
        types = types.filter(Q(name__icontains=query) | Q(description__icontains=query))
    return render(
        request,
        "portal/catalog.html",
        {"page": _page(request, types, 48), "query": query, "nav": "catalog"},
    )


@require_http_methods(["GET", "POST"])
@login_required
def request_new(request: HttpRequest, type_id: int) -> HttpResponse:
    """The form of one request type, built from its current questions; POST submits it."""
    request_type = get_object_or_404(
        selectors.catalog_for(request.user).select_related(
            "resource_group", "resource_application", "resource_item"
        ),
        pk=type_id,
    )
    steps = chain.snapshot(
        request_type, request_type.steps.select_related("flow__current_version")
    )["steps"]
    form = RequestForm(steps, request.POST if request.method == "POST" else None)
    # One token per rendered form, consumed with the request it files: posting the same form
    # twice (a double click, a reload) files one request and shows it.
    once_token = request.POST.get(ONCE_TOKEN, "")[:64] if request.method == "POST" else ""
    if request.method == "POST" and form.is_valid():
        once_key = f"portal:request-new:{request_type.pk}:{once_token}"
        claimed = None
        try:
            with transaction.atomic():
                if once_token:
                    claimed = idempotency.claim(
                        caller=request.user, key=once_key, fingerprint="portal:request-new"
                    )
                    if claimed is None:
                        return _already_submitted(request, once_key)
                created = services.request_submit(
                    request_type=request_type, requester=request.user, answers=form.raw_answers()
                )
                detail = reverse("portal:request-detail", args=[created.pk])
                if claimed is not None:
                    idempotency.remember(
                        claimed, status_code=302, body={"request": created.pk}, location=detail
                    )
        except PermissionDenied:
            raise Http404("No such request type.") from None
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Your request #{created.pk} was submitted.")
            return redirect(detail)
    return render(
        request,
        "portal/request_form.html",
        {
            "request_type": request_type,
            "form": form,
            "once_field": ONCE_TOKEN,
            "once_token": once_token or secrets.token_urlsafe(24),
            "nav": "catalog",
        },
    )


def _already_submitted(request: HttpRequest, once_key: str) -> HttpResponse:
    """The form was posted again: show the request its first post filed."""
    earlier = idempotency.recall(caller=request.user, key=once_key)
    if earlier is None:  # the first post failed meanwhile and kept nothing
        messages.error(request, "This form was being submitted already: check your requests.")
        return redirect("portal:my-requests")
    request_id = json.loads(earlier.response_body)["request"]
    messages.info(request, f"This form was already submitted: request #{request_id}.")
    return redirect(earlier.response_location)


# --- My requests and one request ------------------------------------------------------------


@require_safe
@login_required
def my_requests(request: HttpRequest) -> HttpResponse:
    """The viewer's own requests, newest first, filtered by status."""
    requests = selectors.requests_of(request.user)
    counts = dict(
        requests.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    status = request.GET.get("status", "")
    if status in RequestStatus.values:
        requests = requests.filter(status=status)
    else:
        status = ""
    tabs = [("", "All", sum(counts.values()))] + [
        (value, label, counts.get(value, 0)) for value, label in RequestStatus.choices
    ]
    return render(
        request,
        "portal/my_requests.html",
        {"page": _page(request, requests), "status": status, "tabs": tabs, "nav": "requests"},
    )


def _visible_request(request: HttpRequest, pk: int) -> AccessRequest:
    return get_object_or_404(selectors.requests_visible_to(request.user), pk=pk)


@require_safe
@login_required
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One request: its answers, approvals, tasks, timeline, and what the viewer can do."""
    access_request = _visible_request(request, pk)
    user = request.user
    my_approval = selectors.approvals_for(user).filter(request=access_request).first()
    tasks = list(access_request.tasks.select_related("assignee", "completed_by"))
    for task in tasks:
        task.can_complete = task.status == TaskStatus.OPEN and selectors.may_complete_task(
            user, task
        )
    context = {
        "req": access_request,
        "answers": answers_for_display(access_request),
        "approvals": access_request.approvals.select_related(
            "approver", "delegated_from", "level"
        ).order_by("level__step_index", "created_at", "id"),
        "tasks": tasks,
        "grants": access_request.grants.select_related("group", "application"),
        "timeline": access_request.timeline.select_related("actor"),
        "my_approval": my_approval,
        "can_cancel": access_request.is_open and selectors.may_cancel_request(user, access_request),
        "comment_form": CommentForm() if selectors.may_comment(user, access_request) else None,
        "once_field": ONCE_TOKEN,
        "once_token": secrets.token_urlsafe(24),
        "nav": "requests" if access_request.requester_id == user.pk else "",
    }
    return render(request, "portal/request_detail.html", context)


@require_POST
@login_required
def request_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """The requester withdraws an open request."""
    access_request = _visible_request(request, pk)
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.request_cancel(request=access_request, actor=request.user, reason=reason)
    except (PermissionDenied, ValidationError, IllegalTransition) as error:
        messages.error(request, _refusal(error))
    else:
        messages.success(request, f"Request #{access_request.pk} was canceled.")
    return redirect("portal:request-detail", pk=access_request.pk)


@require_POST
@login_required
def request_comment(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a comment to the request's timeline."""
    access_request = _visible_request(request, pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Write a comment (at most 5000 characters).")
        return redirect("portal:request-detail", pk=access_request.pk)
    once_token = request.POST.get(ONCE_TOKEN, "")[:64]
    try:
        with transaction.atomic():
            # The same comment form posted twice (a double click) adds the comment once.
            if once_token and not idempotency.claim(
                caller=request.user,
                key=f"portal:comment:{access_request.pk}:{once_token}",
                fingerprint="portal:comment",
            ):
                messages.info(request, "Your comment was already added.")
                return redirect(
                    reverse("portal:request-detail", args=[access_request.pk]) + "#timeline"
                )
            services.request_comment(
                request=access_request, actor=request.user, text=form.cleaned_data["text"]
            )
    except (PermissionDenied, ValidationError) as error:
        messages.error(request, _refusal(error))
    else:
        messages.success(request, "Your comment was added.")
    return redirect(reverse("portal:request-detail", args=[access_request.pk]) + "#timeline")


# --- Approvals ------------------------------------------------------------------------------


@require_safe
@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    """The viewer's approvals: pending ones to decide, or the decided ones."""
    tab = "decided" if request.GET.get("tab") == "decided" else "pending"
    if tab == "decided":
        rows = (
            selectors.approvals_for(request.user, status=None)
            .exclude(status=ApprovalStatus.PENDING)
            .order_by("-decided_at", "-id")
        )
    else:
        rows = selectors.approvals_for(request.user)
    page = _page(request, rows)
    answers = answers_for_many(approval.request for approval in page) if tab == "pending" else {}
    for approval in page:
        approval.answers = answers.get(approval.request_id, [])
    return render(request, "portal/approvals.html", {"page": page, "tab": tab, "nav": "approvals"})


def _decide(request: HttpRequest, approval: Approval) -> bool:
    """Apply the POSTed decision through the service; say what happened. True when decided."""
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or deny.")
        return False
    approve = form.cleaned_data["decision"] == "approve"
    try:
        services.approval_decide(
            approval=approval,
            actor=request.user,
            approve=approve,
            comment=form.cleaned_data["comment"],
        )
    except (PermissionDenied, ValidationError, IllegalTransition) as error:
        messages.error(request, _refusal(error))
        return False
    verb = "approved" if approve else "denied"
    messages.success(request, f"You {verb} request #{approval.request_id}.")
    return True


@require_POST
@login_required
def approval_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or deny one approval (from the inbox or a request's page)."""
    approval = get_object_or_404(
        Approval.objects.filter(request__in=selectors.requests_visible_to(request.user)), pk=pk
    )
    _decide(request, approval)
    return redirect(_next_or(request, reverse("portal:approvals")))


@require_http_methods(["GET", "POST"])
@login_required
def approval_link(request: HttpRequest, token: str) -> HttpResponse:
    """The page an approval e-mail links to: GET shows the request, only POST decides."""
    try:
        approval_id = int(notifications.approval_from_token(token))
    except signing.SignatureExpired:
        return _bad_link(request, "This approval link has expired.")
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return _bad_link(request, "This approval link is not valid.")
    approval = get_object_or_404(
        selectors.approvals_for(request.user, status=None).select_related(
            "request__assignee", "level"
        ),
        pk=approval_id,
    )
    if request.method == "POST":
        if _decide(request, approval):
            return redirect("portal:request-detail", pk=approval.request_id)
        return redirect(request.path)
    return render(
        request,
        "portal/approval_link.html",
        {
            "approval": approval,
            "req": approval.request,
            "answers": answers_for_display(approval.request),
            "nav": "approvals",
        },
    )


def _bad_link(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "portal/bad_link.html", {"reason": reason}, status=400)


# --- Tasks ----------------------------------------------------------------------------------


@require_safe
@login_required
def tasks(request: HttpRequest) -> HttpResponse:
    """Open tasks of the viewer (and unassigned ones of their teams)."""
    rows = selectors.tasks_for(request.user).order_by("created_at", "id")
    return render(request, "portal/tasks.html", {"page": _page(request, rows), "nav": "tasks"})


@require_POST
@login_required
def task_complete(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a task done, with an optional note."""
    task = get_object_or_404(
        Task.objects.filter(request__in=selectors.requests_visible_to(request.user)), pk=pk
    )
    form = TaskCompleteForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        services.task_complete(task=task, actor=request.user, note=note)
    except (PermissionDenied, ValidationError, IllegalTransition) as error:
        messages.error(request, _refusal(error))
    else:
        messages.success(request, f"Task “{task.title}” completed.")
    return redirect(_next_or(request, reverse("portal:tasks")))


# --- Delegation -----------------------------------------------------------------------------


@require_POST
@login_required
def delegation_end(request: HttpRequest, pk: int) -> HttpResponse:
    """End one of my delegations now."""
    delegation = get_object_or_404(ApproverDelegation, pk=pk, approver=request.user)
    try:
        services.delegation_end(delegation=delegation, actor=request.user)
    except (PermissionDenied, ValidationError) as error:
        messages.error(request, _refusal(error))
    else:
        messages.success(request, f"Your approvals no longer go to {delegation.delegate}.")
    return redirect("portal:delegations")


@require_http_methods(["GET", "POST"])
@login_required
def delegations(request: HttpRequest) -> HttpResponse:
    """My delegations (and those to me); POST adds one."""
    user = request.user
    form = DelegationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.delegation_create(
                approver=user,
                delegate=data["delegate"],
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                reason=data["reason"],
                actor=user,
            )
        except (PermissionDenied, ValidationError) as error:
            if isinstance(error, PermissionDenied):
                form.add_error(None, _refusal(error))
            else:
                add_service_errors(form, error)
        else:
            messages.success(request, f"Your approvals go to {data['delegate']} in that period.")
            return redirect("portal:delegations")
    now = timezone.now()
    mine = list(ApproverDelegation.objects.filter(approver=user).select_related("delegate"))
    to_me = list(ApproverDelegation.objects.filter(delegate=user).select_related("approver"))
    for delegation in mine + to_me:
        delegation.state = (
            "upcoming"
            if delegation.starts_at > now
            else "active"
            if delegation.ends_at > now
            else "ended"
        )
    return render(
        request,
        "portal/delegations.html",
        {"form": form, "mine": mine, "to_me": to_me, "nav": "delegations"},
    )
