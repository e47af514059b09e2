"""What the portal pages show of a request, read in a fixed number of queries.

Reads only: the rows shown here belong to a request the viewer was already allowed to open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import formats, timezone

from apps.access_requests.models import AccessRequest, QuestionType, StepKind
from apps.catalog.models import ConfigListItem
from apps.directory.models import User


@dataclass(frozen=True)
class Answer:
    """One answered question, as a person reads it."""

    key: str
    label: str
    value: str


def answers_for_display(request: AccessRequest) -> list[Answer]:
    """The request's answers with their question labels; list items and people by name.

    At most two queries (list item labels, people), whatever the number of answers.
    """
    return answers_for_many([request])[request.pk]


def answers_for_many(requests: Iterable[AccessRequest]) -> dict[int, list[Answer]]:
    """Readable answers of several requests (a page of an inbox) in at most two queries."""
    requests = list(requests)
    asked = {request.pk: _answered_questions(request) for request in requests}
    wanted_items: set[tuple[int, str]] = set()
    wanted_people: set[int] = set()
    for request in requests:
        for step in asked[request.pk]:
            raw = request.answers[step["key"]]
            if step["question_type"] == QuestionType.LIST_CHOICE and step.get("config_list"):
                wanted_items.add((step["config_list"], str(raw)))
            elif step["question_type"] == QuestionType.USER and str(raw).isdigit():
                wanted_people.add(int(raw))
    item_labels = _item_labels(wanted_items)
    people = User.objects.in_bulk(wanted_people) if wanted_people else {}
    return {
        request.pk: [
            Answer(
                step["key"],
                step.get("label") or step["key"],
                _show(step, request.answers[step["key"]], item_labels, people),
            )
            for step in asked[request.pk]
        ]
        for request in requests
    }


def _answered_questions(request: AccessRequest) -> list[dict[str, Any]]:
    answers = request.answers or {}
    return [
        step
        for step in request.snapshot.get("steps", [])
        if step["kind"] == StepKind.QUESTION and step.get("key") in answers
    ]


def _item_labels(wanted: set[tuple[int, str]]) -> dict[tuple[int, str], str]:
    if not wanted:
        return {}
    condition = Q()
    for list_id, value in sorted(wanted):
        condition |= Q(config_list_id=list_id, value=value)
    # Inactive items too: an old request keeps the label of what was chosen then.
    return {
        (item.config_list_id, item.value): item.label or item.value
        for item in ConfigListItem.objects.filter(condition)
    }


def _show(step, raw, item_labels, people) -> str:
    kind = step["question_type"]
    if raw is None or raw == "":
        return "—"
    if kind == QuestionType.BOOLEAN:
        return "Yes" if raw is True else "No" if raw is False else str(raw)
    if kind == QuestionType.LIST_CHOICE:
        return item_labels.get((step.get("config_list"), str(raw)), str(raw))
    if kind == QuestionType.OPTIONS:
        labels = {c["value"]: c["label"] for c in step.get("choices", [])}
        return labels.get(str(raw), str(raw))
    if kind == QuestionType.USER:
        person = people.get(int(raw)) if str(raw).isdigit() else None
        return f"{person} ({person.email})" if person and person.email else str(person or raw)
    if kind == QuestionType.DATE:
        try:
            return formats.date_format(dt.date.fromisoformat(str(raw)), "M j, Y")
        except ValueError:
            return str(raw)
    if kind == QuestionType.DATETIME:
        try:
            moment = dt.datetime.fromisoformat(str(raw))
        except ValueError:
            return str(raw)
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return formats.date_format(moment, "M j, Y H:i")
    return str(raw)
