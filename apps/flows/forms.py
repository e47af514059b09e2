"""Admin forms of the flow engine: a flow with its JSON definition, running a flow, importing."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from apps.flows import services
from apps.flows.models import Connection, Flow, InputType
from apps.flows.validation import validate_definition

EMPTY_DEFINITION: dict[str, Any] = {"inputs": [], "cards": []}


class PrettyJSONField(forms.JSONField):
    """A JSON field shown indented, so that a definition can be read and edited by hand."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class FlowAdminForm(forms.ModelForm):
    """A flow's fields and its definition; a definition that does not validate is a form error."""

    definition = PrettyJSONField(
        widget=forms.Textarea(
            attrs={"class": "flow-definition", "rows": 30, "spellcheck": "false"}
        ),
        help_text="The flow as JSON: typed inputs, then cards (see the card reference). Saving "
        "a changed definition makes a new version; runs keep the version they started with.",
    )
    version_note = forms.CharField(
        required=False,
        max_length=255,
        help_text="Optional: what this change is about, kept with the new version.",
    )

    class Meta:
        model = Flow
        fields = (
            "name",
            "description",
            "folder",
            "kind",
            "enabled",
            "save_history",
            "allowed_teams",
        )
        help_texts = {
            "allowed_teams": "For delegated flows: the teams whose request types may run it.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        if instance.pk and instance.current_version_id:
            self.initial.setdefault("definition", instance.current_version.definition)
        else:
            self.initial.setdefault("definition", EMPTY_DEFINITION)

    def clean(self):
        cleaned_data = super().clean()
        definition = cleaned_data.get("definition")
        kind = cleaned_data.get("kind") or self.instance.kind
        if "definition" in cleaned_data:
            try:
                validate_definition(definition, kind=kind)
            except ValidationError as error:
                self.add_error("definition", error)
        return cleaned_data


class ImportFlowsForm(forms.Form):
    """An export file to import."""

    file = forms.FileField(
        help_text="A JSON file written by the export action. Flows are matched by name: a new "
        "name creates a flow, a known one gets a new version. Nothing is written unless the "
        "whole file imports."
    )

    MAX_BYTES = 10 * 1024 * 1024

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise ValidationError("The file is larger than 10 MB.")
        return upload


# --- Running a flow by hand -----------------------------------------------------------------


class YesNoField(forms.TypedChoiceField):
    """A boolean input as an explicit yes / no choice (an unticked box would mean 'false')."""

    def __init__(self, *, required: bool, **kwargs):
        super().__init__(
            choices=[("", "---------"), ("true", "Yes"), ("false", "No")],
            coerce=lambda value: value == "true",
            empty_value=None,
            required=required,
            **kwargs,
        )


def input_field(spec: dict[str, Any]) -> forms.Field:
    """The form field for one typed input of a flow."""
    required = bool(spec.get("required", True))
    options = {
        "required": required,
        "label": spec.get("label") or spec["name"],
        "help_text": spec.get("description", ""),
    }
    input_type = spec.get("type")
    if input_type == InputType.NUMBER:
        return forms.DecimalField(**options)
    if input_type == InputType.DATETIME:
        return forms.DateTimeField(
            widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            **options,
        )
    if input_type == InputType.BOOLEAN:
        return YesNoField(**options)
    if input_type in (InputType.OBJECT, InputType.LIST):
        example = "{}" if input_type == InputType.OBJECT else "[]"
        options["help_text"] = options["help_text"] or f"JSON, e.g. {example}"
        return forms.JSONField(
            widget=forms.Textarea(attrs={"rows": 4, "class": "flow-json-input"}), **options
        )
    return forms.CharField(strip=False, **options)


class RunFlowForm(forms.Form):
    """The inputs of a flow version, one typed field each, in the declared order."""

    def __init__(self, specs: list[dict[str, Any]], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.input_names = [spec["name"] for spec in specs if isinstance(spec, dict)]
        for spec in specs:
            if isinstance(spec, dict):
                self.fields[spec["name"]] = input_field(spec)

    def inputs(self) -> dict[str, Any]:
        """The cleaned values, by input name; empty optional inputs are left out."""
        return {
            name: self.cleaned_data[name]
            for name in self.input_names
            if self.cleaned_data.get(name) not in (None, "")
        }

    def add_service_error(self, error: ValidationError) -> None:
        """Put each message of the service's ValidationError on its input's field."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for name, messages in error.message_dict.items():
            self.add_error(name if name in self.fields else None, messages)


class HostListField(forms.CharField):
    """Host names, one per line or separated by commas, as a list."""

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [host.strip() for host in text.replace(",", "\n").splitlines() if host.strip()]


class ConnectionAdminForm(forms.ModelForm):
    """A stored connection. The secret is write-only: never shown, kept when left blank."""

    secret = forms.CharField(
        required=False,
        strip=True,
        max_length=4000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The client secret, password, token, API key or webhook URL. Never shown "
        "again; leave blank to keep the stored one.",
    )
    token_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=Connection._meta.get_field("token_url").help_text,
    )
    test_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=Connection._meta.get_field("test_url").help_text,
    )
    allowed_private_hosts = HostListField(
        required=False,
        help_text="Hosts on private, loopback or link-local addresses this connection may "
        "call, one per line (e.g. vault.internal). Every other private address stays refused.",
    )

    class Meta:
        model = Connection
        fields = (*services.CONNECTION_FIELDS, "notify_teams")

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            services.connection_check(
                connection=self.instance,
                secret=self.cleaned_data.get("secret") or None,
                kind_changed=bool(self.instance.pk) and "kind" in self.changed_data,
                notify_teams=list(self.cleaned_data.get("notify_teams") or []),
            )
        except ValidationError as error:
            self._update_errors(error)
