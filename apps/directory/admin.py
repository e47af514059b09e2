"""Directory admin. Every save, delete and state change goes through apps.directory.services."""

from __future__ import annotations

from contextvars import ContextVar

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import Group as PermissionGroup
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html

from apps.core.admin_support import LargeTablePaginator, copy_saved_fields
from apps.core.statemachine import IllegalTransition
from apps.directory import services
from apps.directory.forms import (
    GrantForm,
    ProfileAttributeForm,
    UserChangeAdminForm,
    UserCreationAdminForm,
)
from apps.directory.models import (
    USER_LIFECYCLE,
    ApiToken,
    AppAssignment,
    Application,
    Group,
    GroupMembership,
    ProfileAttribute,
    User,
)
from apps.directory.selectors import may_change_user, may_grant_superuser

_password_actor: ContextVar[User | None] = ContextVar("password_actor", default=None)


class AuditedPasswordChangeForm(AdminPasswordChangeForm):
    """Django's admin password form, saving through the service so the change is logged."""

    def save(self, commit=True):
        password = (
            self.cleaned_data["password1"]
            if self.cleaned_data.get("set_usable_password", True)
            else None
        )
        saved = services.user_set_password(
            user=self.user, actor=_password_actor.get(), raw_password=password
        )
        # The admin keeps the session signed in with form.user's hash: give it the new one.
        copy_saved_fields(self.user, saved)
        return self.user


def save_grants(request, formset, kind: str) -> None:
    """Route an inline formset of memberships or assignments through the services."""
    add, update, remove = {
        "group": (
            services.group_add_member,
            services.group_update_membership,
            services.group_remove_member,
        ),
        "application": (
            services.application_assign,
            services.application_update_assignment,
            services.application_unassign,
        ),
    }[kind]
    update_key = "membership" if kind == "group" else "assignment"
    formset.save(commit=False)  # fills new_objects, changed_objects and deleted_objects
    for grant in formset.deleted_objects:
        remove(**{kind: getattr(grant, kind)}, user=grant.user, actor=request.user)
    for grant in formset.new_objects:
        copy_saved_fields(
            grant,
            add(
                **{kind: getattr(grant, kind)},
                user=grant.user,
                actor=request.user,
                source=grant.source,
                expires_at=grant.expires_at,
            ),
        )
    for grant, changed_fields in formset.changed_objects:
        if kind in changed_fields or "user" in changed_fields:
            # Moving a row to another group is a removal plus an addition, both logged.
            original = type(grant).objects.select_related(kind, "user").get(pk=grant.pk)
            remove(**{kind: getattr(original, kind)}, user=original.user, actor=request.user)
            saved = add(
                **{kind: getattr(grant, kind)},
                user=grant.user,
                actor=request.user,
                source=grant.source,
                expires_at=grant.expires_at,
            )
        else:
            saved = update(
                **{update_key: grant},
                actor=request.user,
                source=grant.source,
                expires_at=grant.expires_at,
            )
        copy_saved_fields(grant, saved)


class GroupMembershipInline(admin.TabularInline):
    model = GroupMembership
    form = GrantForm
    fk_name = "user"
    extra = 0
    fields = ("group", "source", "expires_at", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("group",)


class AppAssignmentInline(admin.TabularInline):
    model = AppAssignment
    form = GrantForm
    fk_name = "user"
    extra = 0
    fields = ("application", "source", "expires_at", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("application",)


def _lifecycle_action(verb: str):
    def action(modeladmin, request, queryset):
        done, refused = 0, []
        for user in queryset:
            try:
                services.LIFECYCLE_SERVICES[verb](user=user, actor=request.user)
                done += 1
            except IllegalTransition as error:
                refused.append(str(error))
            except PermissionDenied as error:
                refused.append(f"{user.username}: {error}")
        if done:
            modeladmin.message_user(
                request, f"{verb.capitalize()}: done for {done} user(s).", messages.SUCCESS
            )
        for reason in refused[:10]:
            modeladmin.message_user(request, reason, messages.WARNING)

    action.__name__ = f"{verb}_users"
    action.short_description = f"{verb.capitalize()} selected users"
    action.allowed_permissions = ("change",)
    return action


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """People: profile, custom attributes, lifecycle, memberships."""

    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    change_password_form = AuditedPasswordChangeForm
    list_display = (
        "username",
        "email",
        "first_name",
        "last_name",
        "department",
        "status",
        "manager",
    )
    list_filter = ("status", "is_staff", "is_superuser")
    search_fields = ("username", "email", "first_name", "last_name", "employee_number")
    search_help_text = (
        "The start of a username, e-mail or last name, or an employee number (whatever the case)."
    )
    list_select_related = ("manager",)
    autocomplete_fields = ("manager",)
    readonly_fields = ("status", "status_changed_at", "allowed_moves", "last_login", "date_joined")
    ordering = ("username",)
    show_full_result_count = False
    list_per_page = 50
    paginator = LargeTablePaginator
    inlines = (GroupMembershipInline, AppAssignmentInline)
    actions = [_lifecycle_action(verb) for verb in services.LIFECYCLE_SERVICES]
    fieldsets = (
        (None, {"fields": ("username", "email", "password")}),
        (
            "Profile",
            {
                "fields": (
                    "first_name",
                    "last_name",
                    "title",
                    "department",
                    "employee_number",
                    "manager",
                )
            },
        ),
        (
            "Lifecycle",
            {
                "fields": (
                    "status",
                    "allowed_moves",
                    "status_changed_at",
                    "last_login",
                    "date_joined",
                )
            },
        ),
        (
            "Admin rights",
            {
                "classes": ("collapse",),
                "fields": ("is_staff", "is_superuser", "groups", "user_permissions"),
            },
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "email",
                    "first_name",
                    "last_name",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

    def get_search_results(self, request, queryset, search_term):
        """Prefix search through the case-insensitive indexes: fast with 100,000 people.

        Django's default, a substring match on five columns, reads the whole table; a range on
        lower(username) and lower(email) is an index scan. Autocomplete (managers, members)
        uses the same search.
        """
        term = search_term.strip().lower()
        if not term:
            return queryset, False
        upper = term[:-1] + chr(ord(term[-1]) + 1)
        return (
            queryset.filter(
                Q(username__lower__gte=term, username__lower__lt=upper)
                | Q(email__lower__gte=term, email__lower__lt=upper)
                | Q(last_name__lower__gte=term, last_name__lower__lt=upper)
                | Q(employee_number=search_term.strip())
            ),
            False,
        )

    @admin.display(description="Allowed moves")
    def allowed_moves(self, obj: User) -> str:
        return ", ".join(USER_LIFECYCLE.allowed_verbs(obj.status)) or "none"

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None:
            kwargs["form"] = UserChangeAdminForm.with_attributes(
                list(ProfileAttribute.objects.all())
            )
            # Every field of the form; read-only pages (view permission only, or a superuser
            # seen by other staff) need them named, so that the admin can exclude them all.
            kwargs["fields"] = (
                None
                if self.has_change_permission(request, obj)
                else flatten_fieldsets(self.get_fieldsets(request, obj))
            )
            form = super().get_form(request, obj, **kwargs)
            return type(form.__name__, (form,), {"actor": request.user})
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        names = [
            f"attribute__{name}" for name in ProfileAttribute.objects.values_list("name", flat=True)
        ]
        if names:
            fieldsets = (*fieldsets[:2], ("Custom attributes", {"fields": names}), *fieldsets[2:])
        return fieldsets

    def has_change_permission(self, request, obj=None):
        # The services refuse the same change; here a superuser's page simply opens read-only.
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_change_user(request.user, obj))

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if not may_grant_superuser(request.user):
            fields = (*fields, "is_superuser")
        return fields

    def has_delete_permission(self, request, obj=None):
        return False  # people are deactivated, never deleted: their history must stay whole

    def user_change_password(self, request, id, form_url=""):
        token = _password_actor.set(request.user)
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _password_actor.reset(token)

    def save_model(self, request, obj, form, change):
        if not change:
            usable = form.cleaned_data.get("usable_password") != "false"
            created = services.user_create(
                actor=request.user,
                username=obj.username,
                email=obj.email,
                first_name=obj.first_name,
                last_name=obj.last_name,
                password=form.cleaned_data.get("password1") if usable else None,
            )
            copy_saved_fields(obj, created)
            return
        changes = {
            field: form.cleaned_data[field]
            for field in form.changed_data
            if field in services.PROFILE_FIELDS
        }
        changes.update(form.changed_attributes())
        if changes:
            copy_saved_fields(
                obj, services.user_update_profile(user=obj, actor=request.user, changes=changes)
            )

    def save_related(self, request, form, formsets, change):
        rights = {"is_staff", "is_superuser", "groups", "user_permissions"}
        if change and rights & set(form.changed_data):
            services.user_set_admin_rights(
                user=form.instance,
                actor=request.user,
                is_staff=form.cleaned_data["is_staff"],
                # Read-only (so absent) for those who may not grant it.
                is_superuser=form.cleaned_data.get("is_superuser", form.instance.is_superuser),
                permission_groups=form.cleaned_data["groups"],
                permissions=form.cleaned_data["user_permissions"],
            )
        for formset in formsets:
            self.save_formset(request, form, formset, change)

    def save_formset(self, request, form, formset, change):
        save_grants(
            request, formset, "group" if formset.model is GroupMembership else "application"
        )


admin.site.unregister(PermissionGroup)


@admin.register(PermissionGroup)
class PermissionGroupAdmin(DjangoGroupAdmin):
    """Django's permission-group page, saving through the services so each change is logged."""

    def save_model(self, request, obj, form, change):
        values = {
            "name": form.cleaned_data["name"],
            "permissions": form.cleaned_data["permissions"],
        }
        if change:
            saved = services.permission_group_update(group=obj, actor=request.user, **values)
        else:
            saved = services.permission_group_create(actor=request.user, **values)
        copy_saved_fields(obj, saved)

    def save_related(self, request, form, formsets, change):
        """The permissions were saved by the service with the rest (one event, not two)."""

    def delete_model(self, request, obj):
        services.permission_group_delete(group=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class ResourceAdmin(admin.ModelAdmin):
    """What groups and applications share: owners, a holder count, writes through services."""

    search_fields = ("name", "description")
    ordering = ("name",)
    autocomplete_fields = ("owners",)
    fields = ("name", "description", "owners", "holders_link")
    readonly_fields = ("holders_link",)
    create_service = update_service = delete_service = None
    holder_admin = ""

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(holder_count=Count(self.holder_relation, distinct=True))
        )

    @admin.display(description="Holders", ordering="holder_count")
    def holders_link(self, obj):
        if obj.pk is None:
            return "-"
        url = (
            reverse(f"admin:directory_{self.holder_admin}_changelist")
            + f"?{self.holder_filter}={obj.pk}"
        )
        return format_html('<a href="{}">{} people</a>', url, getattr(obj, "holder_count", 0))

    def save_model(self, request, obj, form, change):
        values = {
            "name": form.cleaned_data["name"],
            "description": form.cleaned_data["description"],
            "owners": form.cleaned_data["owners"],
        }
        if change:
            saved = type(self).update_service(**{self.kind: obj}, actor=request.user, **values)
        else:
            saved = type(self).create_service(actor=request.user, **values)
        copy_saved_fields(obj, saved)

    def save_related(self, request, form, formsets, change):
        """Owners were saved by the service with the rest."""

    def delete_model(self, request, obj):
        type(self).delete_service(**{self.kind: obj}, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Group)
class GroupAdmin(ResourceAdmin):
    list_display = ("name", "description", "holders_link", "updated_at")
    kind = "group"
    holder_relation = "memberships"
    holder_admin = "groupmembership"
    holder_filter = "group__id__exact"
    create_service = staticmethod(services.group_create)
    update_service = staticmethod(services.group_update)
    delete_service = staticmethod(services.group_delete)


@admin.register(Application)
class ApplicationAdmin(ResourceAdmin):
    list_display = ("name", "description", "holders_link", "updated_at")
    kind = "application"
    holder_relation = "assignments"
    holder_admin = "appassignment"
    holder_filter = "application__id__exact"
    create_service = staticmethod(services.application_create)
    update_service = staticmethod(services.application_update)
    delete_service = staticmethod(services.application_delete)


class GrantAdmin(admin.ModelAdmin):
    """Memberships or assignments as their own searchable list (groups can be large)."""

    form = GrantForm
    list_display = ("user", "source", "expires_at", "created_at", "added_by")
    list_filter = ("source", ("expires_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "user__email")
    autocomplete_fields = ("user",)
    paginator = LargeTablePaginator
    show_full_result_count = False
    readonly_fields = ("created_at", "added_by")

    def save_model(self, request, obj, form, change):
        kind = self.kind
        if change:
            saved = self.update(
                **{self.update_key: obj},
                actor=request.user,
                source=obj.source,
                expires_at=obj.expires_at,
            )
        else:
            saved = self.add(
                **{kind: getattr(obj, kind)},
                user=obj.user,
                actor=request.user,
                source=obj.source,
                expires_at=obj.expires_at,
            )
        copy_saved_fields(obj, saved)

    def delete_model(self, request, obj):
        self.remove(**{self.kind: getattr(obj, self.kind)}, user=obj.user, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset.select_related(self.kind, "user"):
            self.delete_model(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fixed = (self.kind, "user") if obj is not None else ()
        return (*fixed, *self.readonly_fields)


@admin.register(GroupMembership)
class GroupMembershipAdmin(GrantAdmin):
    list_display = ("group", *GrantAdmin.list_display)
    list_select_related = ("group", "user", "added_by")
    list_filter = (*GrantAdmin.list_filter, "group")
    autocomplete_fields = ("group", "user")
    kind, update_key = "group", "membership"
    add = staticmethod(services.group_add_member)
    update = staticmethod(services.group_update_membership)
    remove = staticmethod(services.group_remove_member)


@admin.register(AppAssignment)
class AppAssignmentAdmin(GrantAdmin):
    list_display = ("application", *GrantAdmin.list_display)
    list_select_related = ("application", "user", "added_by")
    list_filter = (*GrantAdmin.list_filter, "application")
    autocomplete_fields = ("application", "user")
    kind, update_key = "application", "assignment"
    add = staticmethod(services.application_assign)
    update = staticmethod(services.application_update_assignment)
    remove = staticmethod(services.application_unassign)


@admin.register(ProfileAttribute)
class ProfileAttributeAdmin(admin.ModelAdmin):
    """Custom profile attributes; name and type are fixed once people have values."""

    form = ProfileAttributeForm
    list_display = ("name", "label", "type", "created_at")
    list_filter = ("type",)
    search_fields = ("name", "label")

    def save_model(self, request, obj, form, change):
        values = {f: form.cleaned_data[f] for f in ("name", "label", "type", "description")}
        if change:
            saved = services.profile_attribute_update(attribute=obj, actor=request.user, **values)
        else:
            saved = services.profile_attribute_create(actor=request.user, **values)
        copy_saved_fields(obj, saved)

    def delete_model(self, request, obj):
        services.profile_attribute_delete(attribute=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens: who holds which, until when, last used when. The secret is never stored, and
    its hash is never shown. Staff with the change permission revoke; nothing else is edited."""

    list_display = (
        "name",
        "owner",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "expires_at")
    list_select_related = ("user",)
    search_fields = ("prefix", "name", "user__username", "user__email")
    fields = (
        "name",
        "user",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
        "revoke_reason",
    )
    readonly_fields = fields
    actions = ["revoke_tokens"]
    paginator = LargeTablePaginator
    show_full_result_count = False

    @admin.display(description="Owner", ordering="user__username")
    def owner(self, obj: ApiToken) -> User:
        return obj.user

    def has_add_permission(self, request):
        return False  # tokens are issued to their owner through the API sign-in

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, never deleted: the record of who held what stays

    def save_model(self, request, obj, form, change):
        """Every field is read-only: nothing to save."""

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_tokens(self, request, queryset):
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            services.api_token_revoke(
                token=token, actor=request.user, reason="revoked by an administrator"
            )
            revoked += 1
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
