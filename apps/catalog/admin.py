"""Admin pages for configuration lists. Every write goes through apps.catalog.services."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count

from apps.catalog import services
from apps.catalog.models import ConfigList, ConfigListItem
from apps.core.admin_support import copy_saved_fields


class ConfigListItemInlineForm(forms.ModelForm):
    """An item row; an empty position puts a new item after the last one."""

    position = forms.IntegerField(
        min_value=0, required=False, help_text="Empty: after the last item."
    )

    class Meta:
        model = ConfigListItem
        fields = ["value", "label", "position", "active"]


class ConfigListItemInline(admin.TabularInline):
    """The items of a list, in their order."""

    model = ConfigListItem
    form = ConfigListItemInlineForm
    fields = ["value", "label", "position", "active"]
    ordering = ["position", "id"]
    extra = 0


@admin.register(ConfigList)
class ConfigListAdmin(admin.ModelAdmin):
    """Configuration lists, the teams allowed to use them, and their items."""

    list_display = ["name", "key", "item_count", "updated_at"]
    list_filter = ["teams"]
    search_fields = ["name", "key", "description"]
    prepopulated_fields = {"key": ["name"]}
    filter_horizontal = ["teams"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ConfigListItemInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(item_count=Count("items"))

    @admin.display(description="items", ordering="item_count")
    def item_count(self, config_list: ConfigList) -> int:
        """How many items the list holds."""
        return config_list.item_count

    def save_model(self, request, obj, form, change):
        """Create or update the list, teams included, through the services (one event)."""
        values = {field: form.cleaned_data[field] for field in services.CONFIG_LIST_FIELDS}
        if change:
            saved = services.config_list_update(config_list=obj, actor=request.user, **values)
        else:
            saved = services.config_list_create(actor=request.user, **values)
        copy_saved_fields(obj, saved)

    def save_related(self, request, form, formsets, change):
        """Save the item rows; the teams were already set by save_model's service call."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request, form, formset, change):
        """Apply the item rows through the services: removals first, so a value can be reused."""
        formset.save(commit=False)
        for item in formset.deleted_objects:
            services.config_list_remove_item(item=item, actor=request.user)
        for item, changed_fields in formset.changed_objects:
            changes = {field: getattr(item, field) for field in changed_fields}
            if changes.get("position", 0) is None:  # emptied: keep the current position
                del changes["position"]
            services.config_list_update_item(item=item, actor=request.user, **changes)
        for item in formset.new_objects:
            saved = services.config_list_add_item(
                config_list=form.instance,
                actor=request.user,
                value=item.value,
                label=item.label,
                position=item.position,
                active=item.active,
            )
            copy_saved_fields(item, saved)

    def delete_model(self, request, obj):
        services.config_list_delete(config_list=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for config_list in queryset:
            services.config_list_delete(config_list=config_list, actor=request.user)


@admin.register(ConfigListItem)
class ConfigListItemAdmin(admin.ModelAdmin):
    """Items of all lists, read-only and off the index: the search behind resource autocomplete.

    Items are edited on their list's page; request types pick one as their resource.
    """

    list_display = ["value", "label", "config_list", "position", "active"]
    list_filter = ["active", "config_list"]
    list_select_related = ["config_list"]
    search_fields = ["value", "label", "config_list__name"]

    def has_module_permission(self, request):
        return False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        # Allowed so that deleting a list may take its items along; logged like the inline.
        services.config_list_remove_item(item=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for item in queryset:
            services.config_list_remove_item(item=item, actor=request.user)
