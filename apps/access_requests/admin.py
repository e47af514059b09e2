"""Access-request admin: request types with their step chain, and read-only request records.

Writes go through services. Saving a type and its steps ends with
`services.request_type_record_change` (version and system log); opening or closing a type, and
canceling requests, are admin actions calling services; delegations are created by
`services.delegation_create`. Requests, approvals, tasks and grants are never edited here: they
change only by running their steps.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from apps.access_requests import chain, config_services, services
from apps.access_requests.models import (
    AccessGrant,
    AccessRequest,
    Approval,
    ApproverDelegation,
    Audience,
    RequestType,
    RequestTypeStatus,
    Step,
    StepKind,
    Task,
    TimelineEntry,
)
from apps.access_requests.selectors import (
    may_administer,
    may_manage_delegations_of,
    overlapping_delegation,
)
from apps.catalog.models import ConfigList
from apps.core.admin_support import LargeTablePaginator, copy_saved_fields
from apps.core.statemachine import IllegalTransition
from apps.flows.models import Flow, FlowKind

RESOURCE_FIELDS = ("resource_group", "resource_application", "resource_item")
# The form fields each kind of step uses (the chain module names foreign keys by attname).
KIND_FIELDS = {
    kind: tuple(name.removesuffix("_id") for name in names)
    for kind, names in chain.STEP_FIELDS.items()
}
ALL_KIND_FIELDS = frozenset(name for names in KIND_FIELDS.values() for name in names)
ACTION_KIND_FIELDS = {
    kind: tuple(name.removesuffix("_id") for name in names)
    for kind, names in chain.ACTION_FIELDS.items()
}
# Set on the request type by its admin form: whether its own fields validated (see below).
TYPE_VALID_FLAG = "_admin_type_fields_valid"


def _error_text(error: Exception) -> str:
    return "; ".join(getattr(error, "messages", None) or [str(error)])


# --- Request types and their steps ----------------------------------------------------------


class RequestTypeAdminForm(forms.ModelForm):
    """The request type itself: at most one resource, and a restricted audience names whom."""

    class Meta:
        model = RequestType
        fields = (
            "name",
            "description",
            "owning_team",
            "audience",
            "audience_groups",
            "audience_teams",
            *RESOURCE_FIELDS,
            "inactivity_days",
            "deny_reason_required",
            "chat_connection",
        )

    def clean(self):
        cleaned_data = super().clean()
        chosen = [name for name in RESOURCE_FIELDS if cleaned_data.get(name)]
        if len(chosen) > 1:
            # On the fields, so the model's own at-most-one constraint does not repeat it.
            for name in chosen:
                self.add_error(
                    name,
                    "Choose at most one resource: a group, an application or a configuration "
                    "list item. Clear the others.",
                )
        restricted = cleaned_data.get("audience") == Audience.RESTRICTED
        if (
            restricted
            and "audience_groups" in cleaned_data
            and "audience_teams" in cleaned_data
            and not cleaned_data["audience_groups"]
            and not cleaned_data["audience_teams"]
        ):
            self.add_error("audience", "A restricted audience needs at least one group or team.")
        return cleaned_data

    def full_clean(self):
        super().full_clean()
        # The step formset judges the chain against this (unsaved) instance. When the type's own
        # fields are invalid, that verdict would rest on half-applied values, so it waits.
        setattr(self.instance, TYPE_VALID_FLAG, self.is_bound and not self._errors)


class StepInlineForm(forms.ModelForm):
    """One step. Fields of the kinds not chosen are cleared on save: the page hides them."""

    position = forms.IntegerField(
        min_value=0,
        required=False,
        widget=forms.NumberInput(attrs={"class": "vIntegerField step-position", "min": 0}),
        help_text="Steps run in this order. Empty: after the last step.",
    )

    class Meta:
        model = Step
        fields = (
            "position",
            "kind",
            "condition_key",
            "condition_operator",
            "condition_value",
            *sorted(ALL_KIND_FIELDS),
        )
        widgets = {
            "kind": forms.Select(attrs={"class": "step-kind"}),
            "action_kind": forms.Select(attrs={"class": "step-action-kind"}),
            "flow_inputs": forms.Textarea(attrs={"rows": 6, "cols": 80}),
        }

    def __init__(self, *args, request_type: RequestType | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if "flow_inputs" in self.fields:
            # A callable default (dict) would add a hidden "initial" input to compare with;
            # the row's own value is the initial one, and an empty mapping is no change.
            self.fields["flow_inputs"].show_hidden_initial = False
        team_id = request_type.owning_team_id if request_type is not None else None
        # Offer only the lists and delegated flows the owning team may use. A submitted choice
        # is checked by the chain validation instead, whose message says why it is refused.
        if team_id and not self.is_bound:
            self._offer_only(
                "config_list", ConfigList.objects.all(), Q(teams=team_id), "config_list_id"
            )
            self._offer_only(
                "flow",
                Flow.objects.filter(kind=FlowKind.DELEGATED),
                Q(allowed_teams=team_id),
                "flow_id",
            )

    def _offer_only(self, name: str, queryset, usable: Q, attname: str) -> None:
        field = self.fields.get(name)
        if field is None:
            return
        current = getattr(self.instance, attname)
        if current:
            usable |= Q(pk=current)  # keep showing the current one
        field.queryset = queryset.filter(usable).distinct()

    def clean_flow_inputs(self):
        return self.cleaned_data.get("flow_inputs") or {}  # an emptied box means no mapping

    def clean(self):
        cleaned_data = super().clean()
        kind = cleaned_data.get("kind")
        if kind in KIND_FIELDS:
            self._clear(ALL_KIND_FIELDS - set(KIND_FIELDS[kind]))
        if kind == StepKind.ACTION and cleaned_data.get("action_kind") in ACTION_KIND_FIELDS:
            used = ACTION_KIND_FIELDS[cleaned_data["action_kind"]]
            self._clear({name for names in ACTION_KIND_FIELDS.values() for name in names} - {*used})
        return cleaned_data

    def _clear(self, names) -> None:
        for name in names:
            if name in self.fields:
                self._errors.pop(name, None)  # hidden, and about to be cleared
                self.cleaned_data[name] = Step._meta.get_field(name).get_default()


class StepFormSet(forms.BaseInlineFormSet):
    """The steps of a type as one ordered list, validated as a whole chain before any save."""

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        kwargs["request_type"] = self.instance
        if index is None or index >= self.initial_form_count():
            offset = 0 if index is None else index - self.initial_form_count()
            kwargs["initial"] = {"position": self._next_position + offset}
        return kwargs

    @property
    def _next_position(self) -> int:
        return max((step.position for step in self.get_queryset()), default=0) + 1

    def clean(self):
        super().clean()
        if not getattr(self.instance, TYPE_VALID_FLAG, True):
            return
        deleted = set(self.deleted_forms)
        kept = [
            form
            for form in self.forms
            if form not in deleted and (form.instance.pk or form.has_changed())
        ]
        if any(form.errors for form in kept):
            return  # each form shows its own errors first
        self._fill_positions(kept)
        by_position: dict[int, int] = {}
        for form in kept:
            by_position[form.instance.position] = by_position.get(form.instance.position, 0) + 1
        shared = sorted(position for position, count in by_position.items() if count > 1)
        if shared:
            which = ", ".join(map(str, shared))
            several = len(shared) > 1
            raise ValidationError(
                f"Each step needs its own position: {'positions' if several else 'position'} "
                f"{which} {'are each' if several else 'is'} given to more than one step."
            )
        # The forms' instances are unsaved Step objects carrying the submitted values.
        chain.validate_step_chain(self.instance, [form.instance for form in kept])

    @staticmethod
    def _fill_positions(forms_: list[forms.ModelForm]) -> None:
        """An empty position means after the last step, in the order the rows appear."""
        taken = [
            f.cleaned_data["position"] for f in forms_ if f.cleaned_data.get("position") is not None
        ]
        following = max(taken, default=0) + 1
        for form in forms_:
            if form.cleaned_data.get("position") is None:
                form.cleaned_data["position"] = form.instance.position = following
                following += 1


def _step_fieldset(title: str, kind: str, fields: tuple, description: str = "") -> tuple:
    return (
        title,
        {
            "fields": fields,
            "classes": ("step-fields", f"step-kind-{kind}"),
            "description": description,
        },
    )


class StepInline(admin.StackedInline):
    """The chain: one ordered list of steps; the page shows the fields of each row's kind."""

    model = Step
    form = StepInlineForm
    formset = StepFormSet
    ordering = ("position", "id")
    extra = 0
    autocomplete_fields = ("approver_user", "approver_team", "approver_group", "escalation_user")
    fieldsets = (
        (None, {"fields": (("position", "kind"),)}),
        (
            "When",
            {
                "fields": (("condition_key", "condition_operator", "condition_value"),),
                "classes": ("step-fields", "step-when"),
                "description": "Run this step only if an earlier answer matches; "
                "leave empty to always run it.",
            },
        ),
        _step_fieldset(
            "Question",
            StepKind.QUESTION,
            (
                "key",
                "label",
                "help_text",
                ("question_type", "required", "future_only"),
                "config_list",
                "options",
            ),
        ),
        _step_fieldset(
            "Approval",
            StepKind.APPROVAL,
            (
                ("approver_kind", "quorum"),
                "approver_user",
                "approver_team",
                "approver_group",
                ("timeout_hours", "on_timeout"),
                "escalation_user",
            ),
        ),
        _step_fieldset(
            "Action",
            StepKind.ACTION,
            ("action_kind", ("duration_days", "end_date_key"), "flow", "flow_inputs"),
            "A grant ends after a number of days, or at the date of an earlier question. "
            "A delegated flow (only those the owning team may use are offered) receives each "
            "of its inputs from a request attribute or an earlier answer whose type fits: a "
            "text input takes any value; number, date-and-time and yes/no inputs take only "
            "their own type. The request does not wait for the flow.",
        ),
        _step_fieldset("Task", StepKind.TASK, ("title", "instructions")),
    )

    class Media:
        js = ("access_requests/admin/steps.js",)


def _status_action(status: str, label: str):
    def action(modeladmin, request, queryset):
        done = 0
        for request_type in queryset:
            try:
                config_services.request_type_set_status(
                    request_type=request_type, actor=request.user, status=status
                )
                done += 1
            except ValidationError as error:
                modeladmin.message_user(
                    request, f"{request_type}: {_error_text(error)}", messages.ERROR
                )
        if done:
            modeladmin.message_user(
                request, f"{label}: done for {done} request type(s).", messages.SUCCESS
            )

    action.__name__ = f"make_{status}"
    action.short_description = f"{label} selected request types"
    action.allowed_permissions = ("change",)
    return action


@admin.register(RequestType)
class RequestTypeAdmin(admin.ModelAdmin):
    """Request types: who may ask, what for, and the chain of steps that handles a request."""

    form = RequestTypeAdminForm
    list_display = ("name", "owning_team", "status", "audience", "version", "updated_at")
    list_filter = ("status", "audience", "owning_team")
    list_select_related = ("owning_team",)
    search_fields = ("name", "description")
    autocomplete_fields = (
        "owning_team",
        "audience_groups",
        "audience_teams",
        *RESOURCE_FIELDS,
    )
    readonly_fields = ("status", "version", "created_at", "updated_at")
    inlines = (StepInline,)
    actions = (
        _status_action(RequestTypeStatus.ACTIVE, "Activate"),
        _status_action(RequestTypeStatus.DISABLED, "Disable"),
    )
    fieldsets = (
        (None, {"fields": ("name", "description", "owning_team", "status")}),
        ("Audience", {"fields": ("audience", "audience_groups", "audience_teams")}),
        (
            "Resource",
            {
                "fields": RESOURCE_FIELDS,
                "description": "At most one: a group, an application or a configuration list "
                "item. Granting access needs a group or an application.",
            },
        ),
        ("Decisions and expiry", {"fields": ("deny_reason_required", "inactivity_days")}),
        ("Chat", {"fields": ("chat_connection",)}),
        ("Version", {"fields": ("version", "created_at", "updated_at")}),
    )

    def has_delete_permission(self, request, obj=None):
        return False  # requests keep pointing at their type: disable it instead

    def save_related(self, request, form, formsets, change):
        """Save audience and steps, then raise the version and log the change (one event)."""
        super().save_related(request, form, formsets, change)
        if change and not form.has_changed() and not any(fs.has_changed() for fs in formsets):
            return  # nothing was edited: same version, no event
        saved = services.request_type_record_change(
            request_type=form.instance, actor=request.user, created=not change
        )
        copy_saved_fields(form.instance, saved)


# --- Requests and their records (read-only) -------------------------------------------------


class ReadOnlyAdminMixin:
    """Records written only by the request engine: viewable, never added, edited or deleted."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    max_num = 0
    show_change_link = False
    related: tuple[str, ...] = ()

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.related)


class TimelineEntryInline(ReadOnlyInline):
    model = TimelineEntry
    fields = ("created_at", "kind", "actor", "message", "link")
    readonly_fields = ("link",)
    related = ("actor",)
    ordering = ("created_at", "id")

    @admin.display(description="see")
    def link(self, entry: TimelineEntry) -> str:
        """The flow run a delegated-flow action started, linked to its page in the admin."""
        run_id = (entry.data or {}).get("flow_run")
        if not run_id:
            return ""
        try:
            url = reverse("admin:flows_flowrun_change", args=[run_id])
        except NoReverseMatch:  # the flow runs have no admin page (yet)
            return f"flow run #{run_id}"
        return format_html('<a href="{}">flow run #{}</a>', url, run_id)


class ApprovalInline(ReadOnlyInline):
    model = Approval
    fields = ("step", "approver", "delegated_from", "escalated", "status", "decided_at", "comment")
    readonly_fields = ("step",)
    related = ("level", "approver", "delegated_from")
    ordering = ("level__step_index", "id")

    @admin.display(description="step")
    def step(self, approval: Approval) -> int:
        return approval.level.step_index + 1


class TaskInline(ReadOnlyInline):
    model = Task
    fields = ("title", "assignee", "status", "created_at", "completed_at", "completed_by", "note")
    related = ("assignee", "completed_by")
    ordering = ("step_index", "id")


class AccessGrantInline(ReadOnlyInline):
    model = AccessGrant
    fields = ("user", "group", "application", "status", "starts_at", "ends_at", "revoked_at")
    related = ("user", "group", "application")


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def _step_summary(step: dict[str, Any]) -> str:
    detail = {
        StepKind.QUESTION: lambda: f"{step.get('key')} ({step.get('question_type')})",
        StepKind.APPROVAL: lambda: f"by {step.get('approver_kind')}, quorum {step.get('quorum')}",
        StepKind.ACTION: lambda: " ".join(
            filter(None, [step.get("action_kind"), step.get("flow_name")])
        ),
        StepKind.TASK: lambda: step.get("title") or "",
    }.get(step.get("kind"), lambda: "")()
    condition = step.get("condition")
    when = (
        f" — only if {condition['key']} {condition['operator']} {condition.get('value') or ''}"
        if condition
        else ""
    )
    return f"{step.get('kind')}: {detail}{when}".strip()


@admin.action(description="Cancel selected requests", permissions=("cancel",))
def cancel_requests(modeladmin, request, queryset):
    """Cancel each selected request through the service; refusals become messages."""
    done = 0
    for access_request in queryset:
        try:
            services.request_cancel(request=access_request, actor=request.user)
            done += 1
        except (IllegalTransition, ValidationError, PermissionDenied) as error:
            modeladmin.message_user(
                request, f"#{access_request.pk}: {_error_text(error)}", messages.WARNING
            )
    if done:
        modeladmin.message_user(request, f"Canceled {done} request(s).", messages.SUCCESS)


@admin.register(AccessRequest)
class AccessRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Requests as they ran: answers, the type snapshot they use, and everything that happened."""

    list_display = (
        "id",
        "subject",
        "requester",
        "status",
        "assignee",
        "created_at",
        "last_activity_at",
    )
    list_display_links = ("id", "subject")
    list_filter = (
        "status",
        "request_type",
        "owning_team",
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("requester", "assignee")
    search_fields = ("subject", "requester__email")
    paginator = LargeTablePaginator
    list_per_page = 25  # nine columns a row: 25 rows keep the page under 50 ms at 1M requests
    show_full_result_count = False
    actions = (cancel_requests,)
    readonly_fields = ("answers_table", "snapshot_summary")

    def get_queryset(self, request):
        requests = super().get_queryset(request)
        match = request.resolver_match
        if match and match.url_name == "access_requests_accessrequest_changelist":
            return requests.defer("snapshot", "answers")  # the list shows neither
        return requests

    fieldsets = (
        (None, {"fields": ("subject", "request_type", "status", "requester", "assignee")}),
        ("Answers", {"fields": ("answers_table",)}),
        ("Snapshot", {"fields": ("type_version", "snapshot_summary", "next_step")}),
        (
            "Dates",
            {
                "fields": (
                    "created_at",
                    "updated_at",
                    "last_activity_at",
                    "expires_at",
                    "finished_at",
                )
            },
        ),
    )
    inlines = (TimelineEntryInline, ApprovalInline, TaskInline, AccessGrantInline)

    def has_cancel_permission(self, request) -> bool:
        return may_administer(request.user)

    @admin.display(description="Answers")
    def answers_table(self, obj: AccessRequest) -> str:
        if not obj.answers:
            return "-"
        labels = {
            step["key"]: step.get("label") or step["key"]
            for step in obj.steps
            if step["kind"] == StepKind.QUESTION
        }
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            ((labels.get(key, key), _value_text(value)) for key, value in obj.answers.items()),
        )
        return format_html("<table>{}</table>", rows)

    @admin.display(description="Steps of the snapshot")
    def snapshot_summary(self, obj: AccessRequest) -> str:
        resource = obj.snapshot.get("resource")
        header = format_html(
            "<p>{} (version {}){}</p>",
            obj.snapshot.get("name"),
            obj.snapshot.get("version"),
            format_html(", resource: {}", resource["name"]) if resource else "",
        )
        items = format_html_join(
            "",
            "<li>{}</li>",
            (
                (
                    format_html("<strong>{}</strong>", _step_summary(step))
                    if index == obj.next_step
                    else _step_summary(step),
                )
                for index, step in enumerate(obj.steps)
            ),
        )
        return format_html("{}<ol>{}</ol>", header, items)


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every approver's say on every request."""

    list_display = ("request", "approver", "status", "delegated_from", "escalated", "created_at")
    list_filter = ("status", "escalated")
    list_select_related = ("request", "approver", "delegated_from")
    search_fields = ("request__subject", "approver__email")
    paginator = LargeTablePaginator
    show_full_result_count = False


@admin.register(Task)
class TaskAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Manual work created by requests for their assignees."""

    list_display = (
        "title",
        "request",
        "assignee",
        "status",
        "created_at",
        "completed_at",
        "completed_by",
    )
    list_filter = ("status",)
    list_select_related = ("request", "assignee", "completed_by")
    search_fields = ("title", "request__subject", "assignee__email")
    paginator = LargeTablePaginator
    show_full_result_count = False


@admin.register(AccessGrant)
class AccessGrantAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Access given by requests, and when it ends or was removed."""

    list_display = ("user", "resource", "request", "status", "starts_at", "ends_at", "revoked_at")
    list_filter = ("status", ("ends_at", admin.EmptyFieldListFilter))
    list_select_related = ("user", "group", "application", "request")
    search_fields = ("user__email", "group__name", "application__name", "request__subject")
    paginator = LargeTablePaginator
    show_full_result_count = False

    @admin.display(description="resource")
    def resource(self, grant: AccessGrant) -> str:
        return str(grant.resource or "-")


# --- Delegations ----------------------------------------------------------------------------


class DelegationAdminForm(forms.ModelForm):
    """A new delegation, checked here first so that the service's refusals are form errors."""

    actor = None  # set per request by the admin

    class Meta:
        model = ApproverDelegation
        fields = ("approver", "delegate", "starts_at", "ends_at", "reason")

    def clean(self):
        cleaned_data = super().clean()
        approver = cleaned_data.get("approver")
        actor = self.actor
        if (
            approver is not None
            and actor is not None
            and not may_manage_delegations_of(actor, approver)
        ):
            self.add_error("approver", "You can only delegate your own approvals.")
        starts_at, ends_at = cleaned_data.get("starts_at"), cleaned_data.get("ends_at")
        if approver is not None and starts_at and ends_at and ends_at > starts_at:
            overlap = overlapping_delegation(
                approver=approver, starts_at=starts_at, ends_at=ends_at
            )
            if overlap is not None:
                self.add_error(None, services.delegation_overlap_message(overlap))
        return cleaned_data


@admin.register(ApproverDelegation)
class ApproverDelegationAdmin(admin.ModelAdmin):
    """Approvers away for a while and who decides in their place; created through the service."""

    form = DelegationAdminForm
    list_display = ("approver", "delegate", "starts_at", "ends_at", "reason", "created_at")
    list_select_related = ("approver", "delegate")
    search_fields = ("approver__email", "delegate__email", "reason")
    autocomplete_fields = ("approver", "delegate")
    paginator = LargeTablePaginator
    readonly_fields = ("created_at",)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def has_change_permission(self, request, obj=None):
        return False  # no service edits a delegation: add a new one

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        saved = services.delegation_create(
            approver=obj.approver,
            delegate=obj.delegate,
            starts_at=obj.starts_at,
            ends_at=obj.ends_at,
            actor=request.user,
            reason=obj.reason,
        )
        copy_saved_fields(obj, saved)
