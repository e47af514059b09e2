"""Admin forms of the directory, with a typed field for each custom profile attribute."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.directory.models import AttributeType, ProfileAttribute, User
from apps.directory.selectors import (
    attribute_values_in_use,
    creates_reporting_loop,
    ungrantable_permissions,
)

ATTRIBUTE_FIELD_PREFIX = "attribute__"


class UserCreationAdminForm(AdminUserCreationForm):
    """Username, e-mail, names and a first password (or none)."""

    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email", "first_name", "last_name")

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"])
        if User.objects.filter(email__lower=email.lower()).exists():
            raise ValidationError("A user with that e-mail already exists.")
        return email


def attribute_form_field(attribute: ProfileAttribute) -> forms.Field:
    """The form field that edits one custom attribute, typed like the attribute."""
    common = {"label": attribute.label, "required": False, "help_text": attribute.description}
    if attribute.type == AttributeType.NUMBER:
        return forms.DecimalField(**common)
    if attribute.type == AttributeType.BOOLEAN:
        return forms.NullBooleanField(**common)
    if attribute.type == AttributeType.DATETIME:
        return forms.DateTimeField(**common)
    return forms.CharField(**common)


class UserChangeAdminForm(UserChangeForm):
    """Standard fields plus one field per custom attribute (added by `with_attributes`)."""

    attribute_names: tuple[str, ...] = ()

    class Meta(UserChangeForm.Meta):
        model = User
        exclude = ("profile", "status", "status_changed_at")

    @classmethod
    def with_attributes(cls, attributes: list[ProfileAttribute]) -> type[UserChangeAdminForm]:
        """A subclass declaring a typed field for each attribute."""
        declared = {ATTRIBUTE_FIELD_PREFIX + a.name: attribute_form_field(a) for a in attributes}
        declared["attribute_names"] = tuple(a.name for a in attributes)
        return type("UserChangeAdminFormWithAttributes", (cls,), declared)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        profile = self.instance.profile or {}
        for name in self.attribute_names:
            value = profile.get(name)
            field = self.fields[ATTRIBUTE_FIELD_PREFIX + name]
            if isinstance(field, forms.DateTimeField) and isinstance(value, str):
                value = parse_datetime(value)
            self.initial[ATTRIBUTE_FIELD_PREFIX + name] = value

    def clean_manager(self):
        manager = self.cleaned_data.get("manager")
        if manager and self.instance.pk and creates_reporting_loop(self.instance, manager):
            raise ValidationError("This manager would create a loop in the reporting line.")
        return manager

    actor = None  # the admin signed in, set per request by the admin

    def clean(self):
        """The service's refusal to hand on permissions the admin lacks, as a form error."""
        cleaned_data = super().clean()
        if self.actor is None or not {"user_permissions", "groups"} & set(self.changed_data):
            return cleaned_data
        refused = ungrantable_permissions(
            self.actor,
            self.instance,
            cleaned_data.get("user_permissions") or (),
            cleaned_data.get("groups") or (),
        )
        if refused:
            raise ValidationError(
                "You may only grant permissions you hold yourself; not %(refused)s.",
                params={"refused": ", ".join(refused)},
            )
        return cleaned_data

    def changed_attributes(self) -> dict[str, object]:
        """Custom attribute values that the admin changed, by attribute name."""
        return {
            field[len(ATTRIBUTE_FIELD_PREFIX) :]: self.cleaned_data[field]
            for field in self.changed_data
            if field.startswith(ATTRIBUTE_FIELD_PREFIX)
        }


class GrantForm(forms.ModelForm):
    """A membership or assignment row: the end date, when given, lies ahead."""

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise ValidationError("The end date must be in the future.")
        return expires_at


class ProfileAttributeForm(forms.ModelForm):
    """An attribute definition; its name and type cannot change while people hold values."""

    class Meta:
        model = ProfileAttribute
        fields = ("name", "label", "type", "description")

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            original = ProfileAttribute.objects.get(pk=self.instance.pk)
            in_use = attribute_values_in_use(original.name)
            for field in ("name", "type"):
                if in_use and field in self.changed_data:
                    self.add_error(
                        field, f"{in_use} people have a value for {original.name}: it is fixed."
                    )
        return cleaned
