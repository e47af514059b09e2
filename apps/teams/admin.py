"""Admin pages for teams. Every write goes through apps.teams.services, so it is logged."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count

from apps.core.admin_support import copy_saved_fields
from apps.directory.models import User
from apps.teams import services
from apps.teams.models import AssignmentStrategy, Team, TeamMembership


class TeamAdminForm(forms.ModelForm):
    """The team form: the fixed member is chosen among the team's current members."""

    class Meta:
        model = Team
        fields = ["name", "description", "assignment_strategy", "fixed_member"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "fixed_member" in self.fields:
            members = User.objects.filter(team_memberships__team_id=self.instance.pk)
            self.fields["fixed_member"].queryset = (
                members if self.instance.pk else User.objects.none()
            )

    def clean(self):
        cleaned_data = super().clean()
        if "assignment_strategy" in cleaned_data:
            services.check_assignment_strategy(
                team=self.instance if self.instance.pk else None,
                assignment_strategy=cleaned_data["assignment_strategy"],
                fixed_member=cleaned_data.get("fixed_member"),
            )
        return cleaned_data


class MembershipInlineForm(forms.ModelForm):
    """A membership row; the person of an existing row cannot be swapped for someone else."""

    class Meta:
        model = TeamMembership
        fields = ["user", "is_available"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["user"].disabled = True


class MembershipInlineFormSet(forms.BaseInlineFormSet):
    """Refuses to remove the member that the fixed member strategy relies on."""

    def clean(self):
        super().clean()
        team = self.instance
        if team.assignment_strategy != AssignmentStrategy.FIXED_MEMBER:
            return
        for form in self.deleted_forms:
            if form.instance.pk and form.instance.user_id == team.fixed_member_id:
                raise ValidationError(
                    f"{form.instance.user} is the team's fixed member: choose another fixed "
                    "member or strategy before removing them."
                )


class TeamMembershipInline(admin.TabularInline):
    """The team's members and whether each is available for new work."""

    model = TeamMembership
    form = MembershipInlineForm
    formset = MembershipInlineFormSet
    fields = ["user", "is_available", "joined_at", "last_assigned_at"]
    readonly_fields = ["joined_at", "last_assigned_at"]
    autocomplete_fields = ["user"]
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Teams, their assignment strategy and their members."""

    form = TeamAdminForm
    ordering = ("name",)
    list_display = ["name", "assignment_strategy", "fixed_member", "member_count", "updated_at"]
    list_filter = ["assignment_strategy"]
    search_fields = ["name", "description"]
    readonly_fields = ["last_assigned", "created_at", "updated_at"]
    inlines = [TeamMembershipInline]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("fixed_member")
        return queryset.annotate(member_count=Count("memberships"))

    @admin.display(description="members", ordering="member_count")
    def member_count(self, team: Team) -> int:
        """How many people belong to the team."""
        return team.member_count

    def save_model(self, request, obj, form, change):
        """Create or update the team through the services, then continue with the saved row."""
        values = {field: form.cleaned_data[field] for field in services.TEAM_FIELDS}
        if change:
            saved = services.team_update(team=obj, actor=request.user, **values)
        else:
            # A new team has no members, so it never starts with a fixed member.
            values.pop("fixed_member")
            saved = services.team_create(actor=request.user, **values)
        copy_saved_fields(obj, saved)

    def save_formset(self, request, form, formset, change):
        """Apply the membership rows through the services: removals, changes, then additions."""
        team = form.instance
        formset.save(commit=False)
        for membership in formset.deleted_objects:
            services.team_remove_member(team=team, user=membership.user, actor=request.user)
        for membership, _changed_fields in formset.changed_objects:
            services.team_set_member_availability(
                team=team,
                user=membership.user,
                actor=request.user,
                is_available=membership.is_available,
            )
        for membership in formset.new_objects:
            saved = services.team_add_member(
                team=team,
                user=membership.user,
                actor=request.user,
                is_available=membership.is_available,
            )
            copy_saved_fields(membership, saved)

    def delete_model(self, request, obj):
        services.team_delete(team=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for team in queryset:
            services.team_delete(team=team, actor=request.user)
