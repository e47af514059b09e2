"""Flows admin: flows with their JSON definition, a picture of their cards and their versions;
runs as card-by-card execution histories; flow tables; the card reference page.

Every write goes through `apps.flows.services` (or `apps.flows.transfer`, which calls them):
saving a flow, restoring a version, importing, running by hand, re-running and canceling. Runs
and versions are records and never edited here.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Subquery
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from apps.core.admin_support import LargeTablePaginator, copy_saved_fields
from apps.core.statemachine import IllegalTransition
from apps.flows import (
    registry,
    scenarios,
    scheduling,
    services,
    stored_connections,
    transfer,
    triggers,
)
from apps.flows.errors import CardError
from apps.flows.forms import ConnectionAdminForm, FlowAdminForm, ImportFlowsForm, RunFlowForm
from apps.flows.models import (
    ApiEndpoint,
    CardRun,
    Connection,
    Flow,
    FlowKind,
    FlowRun,
    FlowTable,
    FlowTableRow,
    RunStatus,
    Trigger,
)
from apps.flows.picture import flow_picture

RUNNABLE_BY_HAND = (FlowKind.DELEGATED, FlowKind.HELPER, FlowKind.API)
VERSIONS_SHOWN = 50
CARD_RUNS_PER_PAGE = 200
MAX_RUNS_PER_ACTION = 100
TABLE_ROWS_SHOWN = 200
NEXT_RUNS_SHOWN = 5


# --- Shared pieces --------------------------------------------------------------------------


def pretty_json(value: Any) -> str:
    """A JSON value as an indented, escaped <pre> block."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=False)
    return format_html('<pre class="flow-json">{}</pre>', text)


def render_picture(definition: Any, *, highlight: str = "") -> str:
    """The picture of a definition as HTML (the template escapes every value)."""
    return mark_safe(  # noqa: S308  (rendered by an autoescaping template)
        render_to_string(
            "flows/admin/flow_picture.html",
            {
                "picture": flow_picture(definition, highlight=highlight),
                "card_reference_url": reverse("flows-card-reference"),
            },
        )
    )


def format_duration(milliseconds: float | None) -> str:
    if milliseconds is None:
        return "-"
    if milliseconds < 1000:
        return f"{milliseconds:.1f} ms"
    return f"{milliseconds / 1000:.2f} s"


def may_run(user, flow: Flow) -> bool:
    """Who may start a flow by hand: superusers any runnable flow; holders of
    flows.run_delegated_flow the delegated ones."""
    if not user.is_active or flow.kind not in RUNNABLE_BY_HAND:
        return False
    if user.is_superuser:
        return True
    return flow.kind == FlowKind.DELEGATED and user.has_perm("flows.run_delegated_flow")


def start_by_hand(*, flow: Flow, inputs: dict[str, Any], actor, trigger_ref: str) -> FlowRun:
    """Queue a run started by a person: delegated flows through their one-way call."""
    if flow.kind == FlowKind.DELEGATED:
        return services.start_delegated(
            flow=flow, inputs=inputs, trigger_ref=trigger_ref, actor=actor
        )
    return services.run_enqueue(
        flow=flow, inputs=inputs, trigger=Trigger.MANUAL, trigger_ref=trigger_ref, actor=actor
    )


def _messages_of(error: Exception) -> str:
    return "; ".join(transfer.error_messages(error))


# --- Flows ----------------------------------------------------------------------------------


@admin.action(description="Export selected flows to JSON", permissions=("view",))
def export_flows(modeladmin, request, queryset):
    """One JSON file with the selected flows (definitions name connections, never secrets)."""
    response = HttpResponse(
        transfer.export_json(queryset), content_type="application/json; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="flows-{stamp}.json"'
    return response


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    """Flows: fields and definition saved through the services, one new version per change."""

    form = FlowAdminForm
    list_display = (
        "name",
        "folder",
        "kind",
        "enabled",
        "save_history",
        "version_number",
        "updated_at",
        "runs_link",
    )
    list_filter = ("kind", "enabled", "folder")
    list_select_related = ("current_version",)
    search_fields = ("name", "description", "folder")
    filter_horizontal = ("allowed_teams",)
    readonly_fields = (
        "version_number",
        "trigger_summary",
        "api_endpoint",
        "picture",
        "versions_table",
        "created_at",
        "updated_at",
    )
    actions = (export_flows,)
    change_list_template = "admin/flows/flow/change_list.html"
    change_form_template = "admin/flows/flow/change_form.html"

    class Media:
        css = {"all": ("flows/admin/flow.css",)}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("current_version")

    def get_fieldsets(self, request, obj=None):
        main = (
            None,
            {"fields": ("name", "description", "folder", ("kind", "enabled", "save_history"))},
        )
        teams = ("Delegated flows", {"fields": ("allowed_teams",)})
        definition = (
            "Definition",
            {
                "fields": ("definition",)
                if obj is None
                else ("version_number", "definition", "version_note"),
                "description": format_html(
                    'Cards and their inputs are listed in the <a href="{}">card reference</a>.',
                    reverse("flows-card-reference"),
                ),
            },
        )
        if obj is None:
            return (main, teams, definition)
        endpoint = (
            [("API endpoint", {"fields": ("api_endpoint",)})]
            if ApiEndpoint.objects.filter(flow=obj).exists()
            else []
        )
        return (
            main,
            teams,
            (
                "Trigger",
                {
                    "fields": ("trigger_summary",),
                    "description": "How the flow starts by itself: the definition's "
                    '"trigger" (event types and filters, or a schedule).',
                },
            ),
            *endpoint,
            ("Picture of the current version", {"fields": ("picture",)}),
            definition,
            ("Versions", {"fields": ("versions_table",)}),
            ("Dates", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
        )

    # --- columns and read-only fields ---

    @admin.display(description="version", ordering="current_version__number")
    def version_number(self, obj: Flow):
        return obj.current_version.number if obj.current_version_id else "-"

    @admin.display(description="endpoint")
    def api_endpoint(self, obj: Flow) -> str:
        endpoint = ApiEndpoint.objects.filter(flow=obj).first()
        if endpoint is None:
            return "-"
        token = (
            f"client token {endpoint.token_prefix}… (rotated {endpoint.token_rotated_at:%Y-%m-%d})"
            if endpoint.token_prefix
            else "no client token yet"
        )
        return format_html(
            'POST <code>{}</code>: {}; <a href="{}">rotate it under API endpoints</a>.',
            reverse("flow-hook", args=[endpoint.slug]),
            token,
            reverse("admin:flows_apiendpoint_changelist") + f"?q={endpoint.slug}",
        )

    @admin.display(description="runs")
    def runs_link(self, obj: Flow) -> str:
        url = reverse("admin:flows_flowrun_changelist") + f"?flow__id__exact={obj.pk}"
        return format_html('<a href="{}">runs</a>', url)

    @admin.display(description="starts")
    def trigger_summary(self, obj: Flow) -> str:
        trigger = triggers.trigger_of(obj.definition) if obj.pk else None
        if trigger is None:
            return "Only when started: by hand, by a request, by another flow or the API."
        if trigger.get("type") == "event":
            return format_html(
                "<p>On the events {}.</p>{}",
                ", ".join(trigger.get("events") or []),
                format_html(
                    "<p>Only when: {}</p>",
                    format_html_join(
                        "; ",
                        "<code>{} {} {}</code>",
                        (
                            (spec.get("path"), spec.get("op"), json.dumps(spec.get("value", True)))
                            for spec in trigger.get("filters") or []
                        ),
                    ),
                )
                if trigger.get("filters")
                else "",
            )
        if trigger.get("type") == "schedule":
            return self._schedule_summary(obj, trigger)
        return pretty_json(trigger)

    def _schedule_summary(self, obj: Flow, trigger: dict[str, Any]) -> str:
        zone = triggers.schedule_zone(trigger)
        rule = (
            f"cron {trigger['cron']}"
            if trigger.get("cron")
            else f"every {trigger.get('interval_minutes')} minutes"
        )
        bounds = ", ".join(
            f"{label} {moment.astimezone(zone):%Y-%m-%d %H:%M}"
            for label, moment in zip(
                ("from", "until"), triggers.schedule_bounds(trigger), strict=True
            )
            if moment is not None
        )
        missed = "runs once" if trigger.get("missed", "once") == "once" else "is skipped"
        upcoming = scheduling.upcoming(obj, count=NEXT_RUNS_SHOWN)
        if upcoming:
            runs = format_html(
                "<p>Next runs ({}):</p><ul>{}</ul>",
                zone.key,
                format_html_join(
                    "", "<li>{}</li>", ((f"{moment:%a %Y-%m-%d %H:%M %Z}",) for moment in upcoming)
                ),
            )
        elif not obj.enabled:
            runs = "Disabled: no run is scheduled."
        else:
            runs = "No more runs: the schedule has ended."
        return format_html(
            "<p>{} ({}){}. A run missed while the workers were down {}.</p>{}",
            rule,
            zone.key,
            f", {bounds}" if bounds else "",
            missed,
            runs,
        )

    @admin.display(description="cards")
    def picture(self, obj: Flow) -> str:
        if not obj.pk or not obj.current_version_id:
            return "-"
        return render_picture(obj.current_version.definition)

    @admin.display(description="versions")
    def versions_table(self, obj: Flow) -> str:
        if not obj.pk:
            return "-"
        versions = list(
            obj.versions.select_related("created_by").order_by("-number")[:VERSIONS_SHOWN]
        )
        total = len(versions)
        if total == VERSIONS_SHOWN:
            total = obj.versions.count()
        rows = [
            {
                "version": version,
                "current": version.pk == obj.current_version_id,
                "url": reverse("admin:flows_flow_version", args=[obj.pk, version.number]),
                "restore_url": reverse("admin:flows_flow_restore", args=[obj.pk, version.number]),
            }
            for version in versions
        ]
        return mark_safe(  # noqa: S308  (autoescaping template)
            render_to_string(
                "flows/admin/versions_table.html",
                {"rows": rows, "total": total, "shown": len(rows)},
            )
        )

    # --- saving through the services ---

    def has_delete_permission(self, request, obj=None):
        return False  # no service deletes a flow (runs keep pointing at it): disable it instead

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {name: data[name] for name in services.FLOW_FIELDS if name in data}
        definition = data["definition"]
        teams = list(data.get("allowed_teams") or [])
        if not change:
            saved = transfer.flow_create_with_teams(
                actor=request.user,
                name=fields.pop("name"),
                definition=definition,
                allowed_teams=teams,
                **fields,
            )
        else:
            saved = transfer.flow_apply(
                flow=obj,
                actor=request.user,
                changes={
                    name: value for name, value in fields.items() if name in form.changed_data
                },
                definition=definition,
                allowed_teams=teams if "allowed_teams" in form.changed_data else None,
                note=data.get("version_note", ""),
            )
        copy_saved_fields(obj, saved)

    def save_related(self, request, form, formsets, change):
        """The allowed teams were saved by the service with the rest."""
        for formset in formsets:
            self.save_formset(request, form, formset, change)

    # --- pages ---

    def get_urls(self):
        view = self.admin_site.admin_view
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("import/", view(self.import_view), name=f"{prefix}_import"),
            path(
                "load-scenarios/",
                view(self.load_scenarios_view),
                name=f"{prefix}_load_scenarios",
            ),
            path("<path:object_id>/run/", view(self.run_view), name=f"{prefix}_run"),
            path(
                "<path:object_id>/versions/<int:number>/",
                view(self.version_view),
                name=f"{prefix}_version",
            ),
            path(
                "<path:object_id>/versions/<int:number>/restore/",
                view(self.restore_view),
                name=f"{prefix}_restore",
            ),
            *super().get_urls(),
        ]

    def _context(self, request, **extra) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            **extra,
        }

    def _flow_or_404(self, request, object_id) -> Flow:
        flow = self.get_object(request, unquote(object_id))
        if flow is None:
            raise Http404("No such flow.")
        if not self.has_view_permission(request, flow):
            raise PermissionDenied
        return flow

    def changelist_view(self, request, extra_context=None):
        extra = {
            "has_import_permission": self.has_add_permission(request)
            and self.has_change_permission(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        flow = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if flow is not None:
            extra["may_run"] = may_run(request.user, flow)
            extra["runs_url"] = (
                reverse("admin:flows_flowrun_changelist") + f"?flow__id__exact={flow.pk}"
            )
        return super().change_view(request, object_id, form_url, extra)

    def import_view(self, request):
        """Upload an export file: all flows are created or updated, or none (errors listed)."""
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        report = None
        form = ImportFlowsForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                entries = transfer.parse_import(form.cleaned_data["file"].read())
            except ValidationError as error:
                form.add_error("file", error)
            else:
                report = transfer.import_flows(entries, actor=request.user)
                if report.ok:
                    parts = [
                        f"{label}: {', '.join(names)}"
                        for label, names in (
                            ("created", report.created),
                            ("new version", report.updated),
                            ("unchanged", report.unchanged),
                        )
                        if names
                    ]
                    self.message_user(
                        request, "Imported. " + "; ".join(parts) + ".", messages.SUCCESS
                    )
                    return HttpResponseRedirect(reverse("admin:flows_flow_changelist"))
        context = self._context(request, title="Import flows", form=form, report=report)
        return TemplateResponse(request, "admin/flows/flow/import.html", context)

    def load_scenarios_view(self, request):
        """POST: import the shipped scenario flows (those missing; existing ones are kept)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        changelist = HttpResponseRedirect(reverse("admin:flows_flow_changelist"))
        missing = scenarios.missing_profile_attributes()
        if missing and not request.user.has_perm("directory.add_profileattribute"):
            self.message_user(
                request,
                "The scenarios need the custom profile attributes "
                f"{', '.join(missing)}: ask someone who may add profile attributes to load them.",
                messages.ERROR,
            )
            return changelist
        report = scenarios.load_scenarios(actor=request.user)
        if report.ok:
            self.message_user(
                request,
                f"Scenario flows: {len(report.created)} created, "
                f"{len(report.unchanged)} kept as they were. Create the connections they name "
                "before enabling those that call other systems.",
                messages.SUCCESS,
            )
        else:
            problems = "; ".join(f"{name}: {' '.join(m)}" for name, m in report.errors.items())
            self.message_user(request, f"Nothing was loaded: {problems}", messages.ERROR)
        return changelist

    def run_view(self, request, object_id):
        """Run a flow now with inputs typed into a form built from its current version."""
        flow = self._flow_or_404(request, object_id)
        if not may_run(request.user, flow):
            raise PermissionDenied
        specs = flow.current_version.inputs if flow.current_version_id else []
        if request.method == "POST":
            form = RunFlowForm(specs, request.POST)
            if form.is_valid():
                try:
                    run = start_by_hand(
                        flow=flow, inputs=form.inputs(), actor=request.user, trigger_ref="admin"
                    )
                except ValidationError as error:
                    form.add_service_error(error)
                except PermissionDenied as error:
                    form.add_error(None, str(error) or "You may not run this flow.")
                else:
                    self.message_user(
                        request,
                        f"Run #{run.pk} of {flow} was queued (version {run.version.number}).",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse("admin:flows_flowrun_change", args=[run.pk])
                    )
        else:
            form = RunFlowForm(specs)
        context = self._context(
            request,
            title=f"Run {flow}",
            flow=flow,
            form=form,
            original=flow,
        )
        return TemplateResponse(request, "admin/flows/flow/run.html", context)

    def version_view(self, request, object_id, number):
        """One version, read-only: its picture and its JSON, with a restore button."""
        flow = self._flow_or_404(request, object_id)
        version = get_object_or_404(flow.versions.select_related("created_by"), number=number)
        context = self._context(
            request,
            title=f"{flow}, version {version.number}",
            flow=flow,
            original=flow,
            version=version,
            is_current=version.pk == flow.current_version_id,
            may_restore=self.has_change_permission(request, flow),
            picture=render_picture(version.definition),
            definition=pretty_json(version.definition),
        )
        return TemplateResponse(request, "admin/flows/flow/version.html", context)

    def restore_view(self, request, object_id, number):
        """GET: confirm; POST: make the version current again, as a new version."""
        flow = self._flow_or_404(request, object_id)
        if not self.has_change_permission(request, flow):
            raise PermissionDenied
        version = get_object_or_404(flow.versions, number=number)
        if request.method == "POST":
            try:
                restored = services.flow_restore_version(version=version, actor=request.user)
            except ValidationError as error:
                self.message_user(
                    request,
                    f"Version {version.number} cannot be restored: {_messages_of(error)}",
                    messages.ERROR,
                )
                return HttpResponseRedirect(
                    reverse("admin:flows_flow_version", args=[flow.pk, version.number])
                )
            self.message_user(
                request,
                f"Version {version.number} restored as version {restored.number}.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:flows_flow_change", args=[flow.pk]))
        context = self._context(
            request,
            title=f"Restore version {version.number} of {flow}?",
            flow=flow,
            original=flow,
            version=version,
        )
        return TemplateResponse(request, "admin/flows/flow/restore_confirm.html", context)


# --- Runs -----------------------------------------------------------------------------------


def may_cancel(user) -> bool:
    return user.is_active and (user.is_superuser or user.has_perm("flows.change_flowrun"))


def _run_url(run: FlowRun) -> str:
    return reverse("admin:flows_flowrun_change", args=[run.pk])


@admin.action(description="Re-run with the same inputs", permissions=("rerun",))
def rerun_runs(modeladmin, request, queryset):
    """Queue a new run of each selected run's flow with the same inputs (current version)."""
    runs = list(queryset.select_related("flow", "flow__current_version")[: MAX_RUNS_PER_ACTION + 1])
    if len(runs) > MAX_RUNS_PER_ACTION:
        modeladmin.message_user(
            request, f"Select at most {MAX_RUNS_PER_ACTION} runs at once.", messages.WARNING
        )
        return
    started = []
    for run in runs:
        if not may_run(request.user, run.flow):
            modeladmin.message_user(
                request, f"Run #{run.pk}: you may not run {run.flow}.", messages.WARNING
            )
            continue
        try:
            started.append(services.run_again(run=run, actor=request.user))
        except ValidationError as error:
            modeladmin.message_user(
                request, f"Run #{run.pk}: {_messages_of(error)}", messages.WARNING
            )
    if started:
        modeladmin.message_user(
            request,
            f"Queued {len(started)} new run(s): "
            + ", ".join(f"#{run.pk}" for run in started)
            + ".",
            messages.SUCCESS,
        )


@admin.action(description="Cancel selected queued runs", permissions=("cancel",))
def cancel_runs(modeladmin, request, queryset):
    """Cancel each selected run that is still queued."""
    runs = list(queryset[: MAX_RUNS_PER_ACTION + 1])
    if len(runs) > MAX_RUNS_PER_ACTION:
        modeladmin.message_user(
            request, f"Select at most {MAX_RUNS_PER_ACTION} runs at once.", messages.WARNING
        )
        return
    done = 0
    for run in runs:
        try:
            services.run_cancel(run=run, actor=request.user)
            done += 1
        except IllegalTransition as error:
            modeladmin.message_user(request, str(error), messages.WARNING)
    if done:
        modeladmin.message_user(request, f"Canceled {done} run(s).", messages.SUCCESS)


@admin.register(FlowRun)
class FlowRunAdmin(admin.ModelAdmin):
    """Runs as execution histories: read-only records, re-run and cancel through services."""

    list_display = (
        "id",
        "flow",
        "status",
        "trigger",
        "trigger_ref",
        "created_at",
        "duration",
        "cards_executed",
    )
    list_display_links = ("id",)
    list_filter = ("flow", "status", "trigger", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("flow",)
    paginator = LargeTablePaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # counting per filter value costs too much here
    list_per_page = 50
    actions = (rerun_runs, cancel_runs)
    change_form_template = "admin/flows/flowrun/change_form.html"
    readonly_fields = (
        "flow_link",
        "version_link",
        "status_badge",
        "trigger",
        "trigger_ref",
        "started_by",
        "parent_link",
        "correlation_id",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
        "cards_executed",
        "history_saved",
        "inputs_json",
        "output_json",
        "error_box",
        "version_picture",
        "claims",
        "lease_expires_at",
        "current_card",
        "side_effect_card",
        "runs_started",
    )

    class Media:
        css = {"all": ("flows/admin/flow.css",)}

    def get_queryset(self, request):
        runs = super().get_queryset(request)
        match = request.resolver_match
        if match and match.url_name == "flows_flowrun_changelist":
            return runs.defer("inputs", "output", "error")  # the list shows none of them
        return runs.select_related("flow", "version", "started_by", "parent")

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (
                None,
                {
                    "fields": (
                        "flow_link",
                        "version_link",
                        "status_badge",
                        "trigger",
                        "trigger_ref",
                        "started_by",
                        "parent_link",
                        "correlation_id",
                    )
                },
            ),
            (
                "Timing",
                {
                    "fields": (
                        "created_at",
                        "started_at",
                        "finished_at",
                        "duration",
                        "cards_executed",
                        "history_saved",
                    )
                },
            ),
            ("Inputs and output", {"fields": ("inputs_json", "output_json")}),
            (
                "Worker",
                {
                    "fields": (
                        "claims",
                        "lease_expires_at",
                        "current_card",
                        "side_effect_card",
                        "runs_started",
                    ),
                    "classes": ("collapse",),
                    "description": "A run whose worker was lost is taken up again once its "
                    "lease lapses, unless it had entered a card that is not idempotent: then "
                    "it is failed, so that no side effect is done twice.",
                },
            ),
        ]
        if obj is not None and (obj.error or obj.error_card):
            fieldsets.insert(1, ("Error", {"fields": ("error_box",), "classes": ("flow-error",)}))
        fieldsets.append(
            ("Picture of the version", {"fields": ("version_picture",), "classes": ("collapse",)})
        )
        return fieldsets

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_rerun_permission(self, request) -> bool:
        user = request.user
        return user.is_active and (user.is_superuser or user.has_perm("flows.run_delegated_flow"))

    def has_cancel_permission(self, request) -> bool:
        return may_cancel(request.user)

    # --- columns and read-only fields ---

    @admin.display(description="duration")
    def duration(self, run: FlowRun) -> str:
        return format_duration(run.duration_ms)

    @admin.display(description="flow")
    def flow_link(self, run: FlowRun) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:flows_flow_change", args=[run.flow_id]), run.flow
        )

    @admin.display(description="version")
    def version_link(self, run: FlowRun) -> str:
        url = reverse("admin:flows_flow_version", args=[run.flow_id, run.version.number])
        current = " (current)" if run.version_id == run.flow.current_version_id else ""
        return format_html('<a href="{}">version {}</a>{}', url, run.version.number, current)

    @admin.display(description="status")
    def status_badge(self, run: FlowRun) -> str:
        return format_html(
            '<span class="flow-status flow-status--{}">{}</span>',
            run.status,
            run.get_status_display(),
        )

    @admin.display(description="started by flow run")
    def parent_link(self, run: FlowRun) -> str:
        if not run.parent_id:
            return "-"
        return format_html('<a href="{}">{}</a>', _run_url(run.parent), run.parent)

    @admin.display(description="inputs")
    def inputs_json(self, run: FlowRun) -> str:
        return pretty_json(run.inputs)

    @admin.display(description="output")
    def output_json(self, run: FlowRun) -> str:
        return pretty_json(run.output) if run.output is not None else "-"

    @admin.display(description="error")
    def error_box(self, run: FlowRun) -> str:
        card = (
            format_html(
                '<p>Failing card: <a class="flow-error-card" href="#card-{}">{}</a></p>',
                run.error_card,
                run.error_card,
            )
            if run.error_card
            else ""
        )
        return format_html('<div class="flow-error-box">{}<pre>{}</pre></div>', card, run.error)

    @admin.display(description="cards")
    def version_picture(self, run: FlowRun) -> str:
        return render_picture(run.version.definition, highlight=run.error_card)

    # --- the history, re-run and cancel ---

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if run is not None:
            extra.update(self._history_context(request, run))
        return super().change_view(request, object_id, form_url, extra)

    def _history_context(self, request, run: FlowRun) -> dict[str, Any]:
        card_runs = CardRun.objects.filter(run=run).order_by("sequence")
        page = Paginator(card_runs, CARD_RUNS_PER_PAGE).get_page(request.GET.get("cards_page"))
        rows = [_card_row(card_run, run) for card_run in page.object_list]
        return {
            "run": run,
            "card_rows": rows,
            "card_page": page,
            "may_rerun": may_run(request.user, run.flow),
            "may_cancel": may_cancel(request.user) and run.status == RunStatus.QUEUED,
            "rerun_url": reverse("admin:flows_flowrun_rerun", args=[run.pk]),
            "cancel_url": reverse("admin:flows_flowrun_cancel", args=[run.pk]),
        }

    def get_urls(self):
        view = self.admin_site.admin_view
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/rerun/", view(self.rerun_view), name=f"{prefix}_rerun"),
            path("<path:object_id>/cancel/", view(self.cancel_view), name=f"{prefix}_cancel"),
            *super().get_urls(),
        ]

    def _run_or_404(self, request, object_id) -> FlowRun:
        run = self.get_object(request, unquote(object_id))
        if run is None:
            raise Http404("No such run.")
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        return run

    def rerun_view(self, request, object_id):
        """POST: queue a new run of the same flow with the same inputs."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = self._run_or_404(request, object_id)
        if not may_run(request.user, run.flow):
            raise PermissionDenied
        try:
            new = services.run_again(run=run, actor=request.user)
        except ValidationError as error:
            self.message_user(request, f"Not re-run: {_messages_of(error)}", messages.ERROR)
            return HttpResponseRedirect(_run_url(run))
        self.message_user(
            request, f"Run #{new.pk} was queued with the inputs of run #{run.pk}.", messages.SUCCESS
        )
        return HttpResponseRedirect(_run_url(new))

    def cancel_view(self, request, object_id):
        """POST: cancel a queued run."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = self._run_or_404(request, object_id)
        if not may_cancel(request.user):
            raise PermissionDenied
        try:
            services.run_cancel(run=run, actor=request.user)
        except IllegalTransition as error:
            self.message_user(request, str(error), messages.WARNING)
        else:
            self.message_user(request, f"Run #{run.pk} was canceled.", messages.SUCCESS)
        return HttpResponseRedirect(_run_url(run))


def _card_row(card_run: CardRun, run: FlowRun) -> dict[str, Any]:
    """One line of a run's history, as the template shows it."""
    try:
        title = registry.get(card_run.card_type).title
    except CardError:
        title = ""
    return {
        "card_run": card_run,
        "title": title,
        "depth": card_run.path.count("/") // 2,
        # A class per nesting depth (flow.css), not a style="" attribute: the CSP allows none.
        "indent_class": f"flow-history__path--depth-{min(card_run.path.count('/') // 2, 10)}",
        "duration": f"{card_run.duration_ms:.1f}",
        "inputs": json.dumps(card_run.inputs, indent=2, ensure_ascii=False, default=str),
        "outputs": (
            json.dumps(card_run.outputs, indent=2, ensure_ascii=False, default=str)
            if card_run.outputs is not None
            else ""
        ),
        "is_run_error": not card_run.succeeded and card_run.card_id == run.error_card,
    }


# --- Flow tables ----------------------------------------------------------------------------


class FlowTableRowInline(admin.TabularInline):
    """The rows flows wrote, read-only; only the first ones (tables can grow)."""

    model = FlowTableRow
    fields = ("data_json", "created_at", "updated_at")
    readonly_fields = ("data_json", "created_at", "updated_at")
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = f"rows (the first {TABLE_ROWS_SHOWN})"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="data")
    def data_json(self, row: FlowTableRow) -> str:
        return pretty_json(row.data)


@admin.register(FlowTable)
class FlowTableAdmin(admin.ModelAdmin):
    """Small named tables that flows keep rows in; the rows are written by flows only."""

    list_display = ("name", "description", "row_count", "created_at")
    search_fields = ("name", "description")
    readonly_fields = ("created_at",)
    inlines = (FlowTableRowInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(row_count=Count("rows"))

    @admin.display(description="rows", ordering="row_count")
    def row_count(self, table: FlowTable) -> int:
        return table.row_count

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, FlowTableRowInline) and obj is not None and obj.pk:
            first = FlowTableRow.objects.filter(table=obj).order_by("id").values("pk")
            kwargs["queryset"] = kwargs["queryset"].filter(
                pk__in=Subquery(first[:TABLE_ROWS_SHOWN])
            )
        return kwargs


# --- The card reference ---------------------------------------------------------------------


def paragraphs(text: str) -> list[str]:
    """A docstring as paragraphs: blank lines separate them, line breaks inside are spaces."""
    blocks = [" ".join(block.split()) for block in text.split("\n\n")]
    return [block for block in blocks if block]


def card_reference(request):
    """Every registered card by category: what it does, what it takes and gives (from the
    registry: a new card appears here without any change)."""
    if not request.user.has_perm("flows.view_flow"):
        raise PermissionDenied
    categories = [
        (category, [{"card": card, "paragraphs": paragraphs(card.description)} for card in cards])
        for category, cards in registry.by_category().items()
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Card reference",
        "opts": Flow._meta,
        "app_label": Flow._meta.app_label,
        "categories": categories,
        "card_count": sum(len(cards) for _, cards in categories),
    }
    return TemplateResponse(request, "admin/flows/card_reference.html", context)


# --- Stored connections ---------------------------------------------------------------------

MAX_CONNECTIONS_TESTED = 10


@admin.action(description="Test selected connections", permissions=("change",))
def test_connections(modeladmin, request, queryset):
    """Call each connection's test URL (or fetch an OAuth 2.0 token, or post a test message to
    a chat webhook) and report what the other side answered."""
    chosen = list(queryset.order_by("name")[: MAX_CONNECTIONS_TESTED + 1])
    if len(chosen) > MAX_CONNECTIONS_TESTED:
        modeladmin.message_user(
            request,
            f"Test at most {MAX_CONNECTIONS_TESTED} connections at a time.",
            messages.WARNING,
        )
        return
    for connection in chosen:
        worked, answer = stored_connections.try_connection(connection)
        modeladmin.message_user(
            request,
            f"{connection.name}: {'works' if worked else 'failed'}: {answer}",
            messages.SUCCESS if worked else messages.ERROR,
        )


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    """Stored connections, saved and deleted through the services. The secret is write-only:
    the change page shows whether one is stored, never its value (nor the cached token)."""

    form = ConnectionAdminForm
    list_display = ("name", "kind", "enabled", "secret_status", "token_status", "updated_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "description")
    readonly_fields = ("secret_status", "token_status", "created_at", "updated_at")
    filter_horizontal = ("notify_teams",)
    actions = (test_connections,)
    fieldsets = (
        (None, {"fields": ("name", "description", "kind", "enabled")}),
        ("Secret", {"fields": ("secret", "secret_status")}),
        (
            "OAuth 2.0 client credentials",
            {"fields": ("token_url", "client_id", "scope", "token_status")},
        ),
        ("Basic and custom header", {"fields": ("username", "header_name")}),
        ("Calls", {"fields": ("test_url", "allowed_private_hosts")}),
        ("Request events (chat webhooks)", {"fields": ("notify_every_request", "notify_teams")}),
        (None, {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="Secret")
    def secret_status(self, obj):
        return "stored (hidden)" if obj.pk and obj.has_secret else "none"

    @admin.display(description="Access token")
    def token_status(self, obj):
        if obj.kind != "oauth2_client_credentials" or not obj.encrypted_access_token:
            return "-"
        if obj.access_token_expires_at is None:
            return "cached (no expiry given)"
        return f"cached until {timezone.localtime(obj.access_token_expires_at):%Y-%m-%d %H:%M:%S}"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        values = {name: data[name] for name in services.CONNECTION_FIELDS if name in data}
        secret = data.get("secret") or ""
        teams = list(data.get("notify_teams") or [])
        if change:
            changed = {name: values[name] for name in values if name in form.changed_data}
            saved = services.connection_update(
                connection=obj,
                actor=request.user,
                secret=secret or None,
                notify_teams=teams if "notify_teams" in form.changed_data else None,
                **changed,
            )
        else:
            saved = services.connection_create(
                actor=request.user,
                name=values.pop("name"),
                kind=values.pop("kind"),
                secret=secret,
                notify_teams=teams,
                **values,
            )
        copy_saved_fields(obj, saved)

    def save_related(self, request, form, formsets, change):
        """The teams were saved by the service with the rest."""
        for formset in formsets:
            self.save_formset(request, form, formset, change)

    def delete_model(self, request, obj):
        services.connection_delete(connection=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


# --- API endpoints --------------------------------------------------------------------------


@admin.register(ApiEndpoint)
class ApiEndpointAdmin(admin.ModelAdmin):
    """Where API-endpoint flows answer. The slug comes from the flow's trigger (edit the flow);
    here the client token is rotated, its secret shown once. Its hash is never shown."""

    list_display = ("slug", "flow", "token_prefix", "token_rotated_at")
    list_select_related = ("flow",)
    search_fields = ("slug", "flow__name")
    fields = ("slug", "flow", "token_prefix", "token_rotated_at")
    readonly_fields = fields
    actions = ["rotate_token"]

    def has_add_permission(self, request):
        return False  # made by saving a flow whose trigger is "api"

    def has_delete_permission(self, request, obj=None):
        return False  # goes when the flow's trigger does

    def save_model(self, request, obj, form, change):
        """Every field is read-only: nothing to save."""

    def has_rotate_permission(self, request) -> bool:
        return request.user.has_perm("flows.rotate_apiendpoint")

    @admin.action(description="Rotate the client token (shown once)", permissions=["rotate"])
    def rotate_token(self, request, queryset):
        endpoints = list(queryset[:2])
        if len(endpoints) != 1:
            self.message_user(request, "Rotate one endpoint at a time.", messages.WARNING)
            return None
        endpoint = endpoints[0]
        token = services.endpoint_rotate_token(endpoint=endpoint, actor=request.user)
        response = TemplateResponse(
            request,
            "admin/flows/apiendpoint/new_token.html",
            {
                **self.admin_site.each_context(request),
                "title": "New client token",
                "endpoint": endpoint,
                "token": token,
                "url": request.build_absolute_uri(reverse("flow-hook", args=[endpoint.slug])),
                "back": reverse("admin:flows_apiendpoint_changelist"),
            },
        )
        response["Cache-Control"] = "no-store"
        return response


__all__ = [
    "ApiEndpointAdmin",
    "ConnectionAdmin",
    "FlowAdmin",
    "FlowRunAdmin",
    "FlowTableAdmin",
    "card_reference",
]
