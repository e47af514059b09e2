"""The system log in the admin: read-only, filterable, searchable, exportable as CSV."""

from __future__ import annotations

import csv
import json

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from apps.audit import catalogue, events, services
from apps.audit.models import IngestSource, SystemLogEvent
from apps.audit.selectors import events_by_actor
from apps.audit.services import emit
from apps.core.admin_support import LargeTablePaginator

CSV_COLUMNS = (
    "uuid",
    "published",
    "event_type",
    "outcome",
    "actor_display",
    "target_type",
    "target_id",
    "target_display",
    "message",
    "correlation_id",
    "client_ip",
    "data",
)


class EventTypeFilter(admin.SimpleListFilter):
    """Event types from the catalogue: no DISTINCT scan of a large table to build the list."""

    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        return [(event_type.name, event_type.name) for event_type in catalogue.all_event_types()]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if value.endswith("*"):
            return queryset.filter(event_type__startswith=value[:-1])
        return queryset.filter(event_type=value)


class TextInputFilter(admin.SimpleListFilter):
    """A filter typed into a box, for fields with too many values to list."""

    template = "admin/filters/text_input.html"

    def lookups(self, request, model_admin):
        return [("", "")]  # the admin shows a filter only when it has lookups

    def choices(self, changelist):
        query = changelist.get_query_string(remove=[self.parameter_name])
        yield {
            "value": self.value() or "",
            "parameter_name": self.parameter_name,
            "remove_query": query,
            "hidden": [
                (key, value)
                for key, value in changelist.params.items()
                if key != self.parameter_name
            ],
        }


class ActorFilter(TextInputFilter):
    title = "actor (start of a name, username or e-mail, or 'system')"
    parameter_name = "actor"

    def queryset(self, request, queryset):
        return events_by_actor(queryset, self.value() or "")


class TargetFilter(TextInputFilter):
    title = "target (type:id, or a name)"
    parameter_name = "target"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        target_type, separator, target_id = value.partition(":")
        if separator and "." in target_type:
            return queryset.filter(target_type=target_type, target_id=target_id)
        return queryset.filter(target_display__icontains=value)


@admin.register(SystemLogEvent)
class SystemLogEventAdmin(admin.ModelAdmin):
    """Read-only: nobody adds, changes or deletes history, not even a superuser."""

    list_display = (
        "published",
        "event_type",
        "outcome",
        "actor_display",
        "target_type",
        "target_display",
    )
    list_filter = (
        EventTypeFilter,
        "outcome",
        ActorFilter,
        TargetFilter,
        ("published", admin.DateFieldListFilter),
    )
    search_fields = (
        "event_type",
        "actor_display",
        "target_display",
        "=target_id",
        "=correlation_id",
        "message",
    )
    paginator = LargeTablePaginator
    show_full_result_count = False
    list_per_page = 50

    class Media:
        css = {"all": ("audit/admin.css",)}  # the text filters' layout

    ordering = ("-published", "-id")
    readonly_fields = [field.name for field in SystemLogEvent._meta.fields]
    change_list_template = "admin/audit/systemlogevent/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        export = path(
            "export.csv",
            self.admin_site.admin_view(self.export_csv_view),
            name="audit_systemlogevent_export",
        )
        return [export, *super().get_urls()]

    def export_csv_view(self, request):
        """Stream the list as filtered and searched on the page, every row, as CSV."""
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        rows = changelist.get_queryset(request).order_by("-published", "-id")
        filters = request.GET.urlencode()
        emit(
            events.SYSTEM_LOG_EXPORTED,
            actor=request.user,
            data={"old": None, "new": None, "rows": rows.count(), "filters": filters},
        )
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="system-log-{stamp}.csv"'
        return response


class _Echo:
    def write(self, value):
        return value


def _csv_lines(rows):
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    data_column = CSV_COLUMNS.index("data")
    for event in rows.values_list(*CSV_COLUMNS).iterator(chunk_size=2000):
        values = list(event)
        values[data_column] = json.dumps(
            values[data_column], cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True
        )
        yield writer.writerow(_csv_safe(value) for value in values)


def _csv_safe(value):
    """Neutralise spreadsheet formulas in free text (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# --- Event ingest sources -------------------------------------------------------------------


@admin.register(IngestSource)
class IngestSourceAdmin(admin.ModelAdmin):
    """Other systems whose events are written to the system log. Saved through the services;
    a new source gets a shared secret, shown once (so does the "new secret" action)."""

    list_display = ("name", "slug", "kind", "event_prefix", "auth_header", "enabled")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "slug")
    fields = (
        "name",
        "slug",
        "kind",
        "event_prefix",
        "auth_header",
        "enabled",
        "secret_prefix",
        "secret_rotated_at",
    )
    readonly_fields = ("secret_prefix", "secret_rotated_at")
    prepopulated_fields = {"slug": ("name",)}
    actions = ["rotate_secret"]

    def has_delete_permission(self, request, obj=None):
        return False  # disable it instead: its events keep naming it

    def has_rotate_permission(self, request) -> bool:
        return request.user.has_perm("audit.rotate_ingestsource")

    def save_model(self, request, obj, form, change):
        values = {field: form.cleaned_data[field] for field in services.INGEST_SOURCE_FIELDS}
        try:
            if change:
                services.ingest_source_update(source=obj, actor=request.user, **values)
            else:
                source, secret = services.ingest_source_create(actor=request.user, **values)
                obj.pk = source.pk
                request._new_ingest_secret = secret
        except ValidationError as error:  # checked by the form already; a race at worst
            self.message_user(request, "; ".join(error.messages), messages.ERROR)

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_new_ingest_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        return self._show_secret(request, IngestSource.objects.get(pk=obj.pk), secret)

    @admin.action(description="Make a new shared secret (shown once)", permissions=["rotate"])
    def rotate_secret(self, request, queryset):
        sources = list(queryset[:2])
        if len(sources) != 1:
            self.message_user(
                request, "Make a new secret for one source at a time.", messages.WARNING
            )
            return None
        secret = services.ingest_source_rotate_secret(source=sources[0], actor=request.user)
        return self._show_secret(request, IngestSource.objects.get(pk=sources[0].pk), secret)

    def _show_secret(self, request, source: IngestSource, secret: str):
        response = TemplateResponse(
            request,
            "admin/audit/ingestsource/new_secret.html",
            {
                **self.admin_site.each_context(request),
                "title": "Shared secret",
                "source": source,
                "secret": secret,
                "url": request.build_absolute_uri(reverse("ingest", args=[source.slug])),
                "back": reverse("admin:audit_ingestsource_changelist"),
            },
        )
        response["Cache-Control"] = "no-store"
        return response
