"""Forms of the portal: the request form built from a type's questions, and the small ones.

Forms here only parse what the browser sends into Python values; the rules (which questions
apply, what is required, what a value may be) are the services' and `chain.clean_answers`'.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from apps.access_requests import chain
from apps.access_requests.chain import FUTURE_ONLY_MESSAGE
from apps.access_requests.models import QuestionType, StepKind
from apps.catalog.models import ConfigListItem
from apps.directory.models import UserStatus
from apps.directory.selectors import find_user

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
BOOLEAN_CHOICES = [("true", "Yes"), ("false", "No")]


def _not_before_today(value) -> None:
    if value is not None and value < timezone.localdate():
        raise ValidationError(FUTURE_ONLY_MESSAGE)


def _after_now(value) -> None:
    if value is not None and value <= timezone.now():
        raise ValidationError(FUTURE_ONLY_MESSAGE)


def _to_bool(value: str) -> bool | None:
    return {"true": True, "false": False}.get(value)


class PersonField(forms.CharField):
    """A person typed as username or e-mail, resolved to an active user (one query)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"placeholder": "username or e-mail", "autocomplete": "off"}),
        )
        super().__init__(**kwargs)

    def clean(self, value: Any):
        login = super().clean(value)
        if not login:
            return None
        person = find_user(login)
        if person is None or person.status != UserStatus.ACTIVE:
            raise ValidationError(f"Nobody active is called {login!r}.")
        return person


def question_steps(snapshot_steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The question steps of a snapshot, in order."""
    return [step for step in snapshot_steps if step["kind"] == StepKind.QUESTION]


def list_items_by_list(snapshot_steps: list[dict[str, Any]]) -> dict[int, list[ConfigListItem]]:
    """Active items of every list the questions use, in one query."""
    list_ids = {
        step["config_list"]
        for step in question_steps(snapshot_steps)
        if step["question_type"] == QuestionType.LIST_CHOICE and step.get("config_list")
    }
    items: dict[int, list[ConfigListItem]] = {list_id: [] for list_id in list_ids}
    if list_ids:
        for item in ConfigListItem.objects.filter(config_list_id__in=list_ids, active=True):
            items[item.config_list_id].append(item)
    return items


class RequestForm(forms.Form):
    """One field per question of the type, keyed by the question's key.

    Every field is optional at this level: whether an answer is needed depends on the
    conditions, which `chain.clean_answers` judges on submit. The browser gets `required` (and
    the condition as data attributes) so the page can show and check what applies.
    """

    def __init__(self, snapshot_steps: list[dict[str, Any]], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.snapshot_steps = snapshot_steps
        self.questions = question_steps(snapshot_steps)
        items = list_items_by_list(snapshot_steps)
        for step in self.questions:
            field = self._field_for(step, items)
            field.required = False
            attrs = field.widget.attrs
            if step["required"]:
                attrs["data-required"] = "true"
                if not step.get("condition"):
                    attrs["required"] = True
            field.question = step
            self.fields[step["key"]] = field

    def _field_for(
        self, step: Mapping[str, Any], items: Mapping[int, list[ConfigListItem]]
    ) -> forms.Field:
        kind = step["question_type"]
        common: dict[str, Any] = {"label": step["label"], "help_text": step.get("help_text", "")}
        empty = [("", "Choose…")]
        if kind == QuestionType.TEXT:
            return forms.CharField(max_length=500, **common)
        if kind == QuestionType.LONG_TEXT:
            return forms.CharField(
                max_length=10_000, widget=forms.Textarea(attrs={"rows": 4}), **common
            )
        if kind == QuestionType.NUMBER:
            return forms.DecimalField(**common)
        future_only = bool(step.get("future_only"))
        if kind == QuestionType.DATE:
            attrs = {"type": "date"}
            if future_only:
                attrs["min"] = timezone.localdate().isoformat()
                common["validators"] = [_not_before_today]
            return forms.DateField(widget=forms.DateInput(attrs=attrs), **common)
        if kind == QuestionType.DATETIME:
            attrs = {"type": "datetime-local"}
            if future_only:
                attrs["min"] = timezone.localtime().strftime(DATETIME_LOCAL)
                common["validators"] = [_after_now]
            return forms.DateTimeField(
                widget=forms.DateTimeInput(attrs=attrs, format=DATETIME_LOCAL),
                input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
                **common,
            )
        if kind == QuestionType.BOOLEAN:
            # A select rather than a checkbox: "no" is an answer, different from no answer.
            return forms.TypedChoiceField(
                choices=empty + BOOLEAN_CHOICES, coerce=_to_bool, empty_value=None, **common
            )
        if kind == QuestionType.OPTIONS:
            choices = [(c["value"], c["label"]) for c in step.get("choices", [])]
            return forms.ChoiceField(choices=empty + choices, **common)
        if kind == QuestionType.LIST_CHOICE:
            choices = [(i.value, i.label or i.value) for i in items.get(step["config_list"], [])]
            return forms.ChoiceField(choices=empty + choices, **common)
        if kind == QuestionType.USER:
            return PersonField(max_length=254, **common)
        raise ValueError(f"Unknown question type {kind!r}")

    def clean(self):
        cleaned_data = super().clean()
        if self._errors:
            # Some answers did not parse, so the service will not be asked this round: judge the
            # others by its rules now, and report every problem at once.
            try:
                chain.clean_answers({"steps": self.snapshot_steps}, self.raw_answers())
            except ValidationError as error:
                for key, messages in error.message_dict.items():
                    if key in self.fields and key not in self._errors:
                        self.add_error(key, messages)
        return cleaned_data

    def bound_questions(self):
        """(bound field, question, condition as JSON) for the template, in order."""
        for step in self.questions:
            condition = step.get("condition")
            yield self[step["key"]], step, json.dumps(condition) if condition else ""

    def raw_answers(self) -> dict[str, Any]:
        """The parsed values, in the forms `chain.clean_answers` accepts (after is_valid)."""
        answers: dict[str, Any] = {}
        for step in self.questions:
            value = self.cleaned_data.get(step["key"])
            if value is None or value == "":
                continue
            if step["question_type"] == QuestionType.USER:
                value = value.pk
            elif step["question_type"] == QuestionType.NUMBER:
                value = str(value)
            answers[step["key"]] = value
        return answers

    def add_service_errors(self, error: ValidationError) -> None:
        """Put the errors of `request_submit` on the fields they name (others on the form)."""
        add_service_errors(self, error)


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Map a service's ValidationError onto `form`: known fields get theirs, the rest the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, messages in error.message_dict.items():
        if field in form.fields:
            form.add_error(field, messages)
        elif field == NON_FIELD_ERRORS:
            form.add_error(None, messages)
        else:
            label = field.replace("_", " ")
            form.add_error(None, [f"{label}: {message}" for message in messages])


class DecisionForm(forms.Form):
    """Approve or deny, with an optional comment."""

    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("deny", "Deny")])
    comment = forms.CharField(required=False, max_length=5000, widget=forms.Textarea)


class CommentForm(forms.Form):
    """A comment on a request's thread."""

    text = forms.CharField(
        label="Comment",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Write a comment…"}),
    )


class CancelForm(forms.Form):
    """Why the requester withdraws the request (optional)."""

    reason = forms.CharField(required=False, max_length=500)


class TaskCompleteForm(forms.Form):
    """The assignee's optional note when completing a task."""

    note = forms.CharField(required=False, max_length=5000)


class DelegationForm(forms.Form):
    """Hand my approvals to someone else for a while."""

    delegate = PersonField(
        max_length=254, help_text="Their username or e-mail address.", label="Delegate"
    )
    starts_at = forms.DateTimeField(
        label="From",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
    )
    ends_at = forms.DateTimeField(
        label="Until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
    )
    reason = forms.CharField(
        required=False, max_length=255, widget=forms.TextInput(attrs={"placeholder": "Holiday"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault(
                "starts_at", timezone.localtime().replace(second=0, microsecond=0)
            )

    def clean_ends_at(self):
        ends_at = self.cleaned_data["ends_at"]
        if ends_at <= timezone.now():
            raise ValidationError("The end must be in the future.")
        return ends_at
