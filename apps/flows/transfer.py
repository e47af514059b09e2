"""Flows as JSON documents: export, import, and saving a whole flow (fields and definition).

The export is one JSON list, one object per flow:

    [{"name": ..., "description": ..., "folder": ..., "kind": ..., "enabled": ...,
      "save_history": ..., "allowed_teams": ["Team name", ...], "definition": {...}}]

Connections are named inside definitions, so no secret ever leaves the database. Importing the
file creates each flow, or saves a new version of the flow of the same name (and updates its
fields and allowed teams); the whole file is imported in one transaction or not at all, and every
problem found is reported by flow. All writes go through `apps.flows.services`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import QuerySet

from apps.flows import services
from apps.flows.models import Flow, FlowKind
from apps.flows.validation import validate_definition
from apps.teams.models import Team

EXPORT_FIELDS = ("name", "description", "folder", "kind", "enabled", "save_history")
IMPORT_KEYS = frozenset({*EXPORT_FIELDS, "allowed_teams", "definition"})
_TEXT_FIELDS = ("description", "folder")
_SWITCHES = ("enabled", "save_history")


def error_messages(error: Exception) -> list[str]:
    """A ValidationError (or any error) as a flat list of readable messages."""
    if isinstance(error, ValidationError):
        if hasattr(error, "error_dict"):
            return [
                message if name == "__all__" else f"{name}: {message}"
                for name, messages in error.message_dict.items()
                for message in messages
            ]
        return list(error.messages)
    return [str(error)]


# --- Saving one flow ------------------------------------------------------------------------


@transaction.atomic
def flow_apply(
    *,
    flow: Flow,
    actor,
    changes: Mapping[str, Any],
    definition: Mapping[str, Any],
    allowed_teams: Iterable[Team] | None = None,
    note: str = "",
) -> Flow:
    """Change a flow's fields, allowed teams and definition at once, through the services.

    The definition is checked against the kind the flow will have. A change of kind goes with
    its definition in one service call (a trigger belongs to its kind: neither the old
    definition fits the new kind nor the new definition the old one)."""
    flow = Flow.objects.select_related("current_version").get(pk=flow.pk)  # the saved kind
    validate_definition(definition, kind=changes.get("kind", flow.kind))
    teams = list(allowed_teams) if allowed_teams is not None else None
    if "kind" in changes:
        flow = services.flow_update(
            flow=flow,
            actor=actor,
            allowed_teams=teams,
            definition=definition,
            note=note,
            **changes,
        )
    else:
        services.flow_save_definition(flow=flow, actor=actor, definition=definition, note=note)
        if changes or teams is not None:
            flow = services.flow_update(flow=flow, actor=actor, allowed_teams=teams, **changes)
    return Flow.objects.select_related("current_version").get(pk=flow.pk)


@transaction.atomic
def flow_create_with_teams(
    *,
    actor,
    name: str,
    definition: Mapping[str, Any],
    allowed_teams: Iterable[Team] = (),
    **fields,
) -> Flow:
    """Create a flow with its first version, then give it its allowed teams (if any)."""
    flow = services.flow_create(actor=actor, name=name, definition=definition, **fields)
    teams = list(allowed_teams)
    if teams:
        flow = services.flow_update(flow=flow, actor=actor, allowed_teams=teams)
    return flow


# --- Export ---------------------------------------------------------------------------------


def export_flows(flows: QuerySet[Flow]) -> list[dict[str, Any]]:
    """The flows as plain JSON-ready objects (three queries, however many flows)."""
    flows = flows.select_related("current_version").prefetch_related("allowed_teams")
    return [
        {
            **{name: getattr(flow, name) for name in EXPORT_FIELDS},
            "allowed_teams": sorted(team.name for team in flow.allowed_teams.all()),
            "definition": flow.definition,
        }
        for flow in flows.order_by("folder", "name")
    ]


def export_json(flows: QuerySet[Flow]) -> str:
    """The export as the text of a JSON file."""
    return json.dumps(export_flows(flows), indent=2, ensure_ascii=False, cls=DjangoJSONEncoder)


# --- Import ---------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did, or (when `errors` is not empty) why it did nothing."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


class _RollBack(Exception):
    """Leaves the import's transaction so that nothing of a refused file is written."""


def parse_import(text: str | bytes) -> list[Any]:
    """The flows of an export file; ValidationError when it is not one."""
    try:
        document = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValidationError(f"The file is not valid JSON: {error}.") from None
    if not isinstance(document, list):
        raise ValidationError("The file must hold a JSON list of flows, as the export writes.")
    return document


def import_flows(entries: list[Any], *, actor) -> ImportReport:
    """Create or update every flow of `entries` in one transaction; on any error, write nothing."""
    report = ImportReport()
    teams = {team.name.casefold(): team for team in Team.objects.all()}
    checked: list[tuple[str, dict[str, Any], list[Team]]] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        label, problems, values, entry_teams = _check_entry(number, entry, teams)
        if label in seen:
            problems.append("The file holds two flows of this name.")
        seen.add(label)
        if problems:
            report.errors.setdefault(label, []).extend(problems)
        else:
            checked.append((label, values, entry_teams))
    if report.errors:
        return report
    try:
        with transaction.atomic():
            for label, values, entry_teams in checked:
                try:
                    with transaction.atomic():
                        _import_one(values, entry_teams, actor=actor, report=report)
                except ValidationError as error:
                    report.errors.setdefault(label, []).extend(error_messages(error))
            if report.errors:
                raise _RollBack
    except _RollBack:
        report.created, report.updated, report.unchanged = [], [], []
    return report


def _check_entry(number: int, entry: Any, teams: dict[str, Team]):
    """(label, problems, values, teams) of one object of the file, checked before any write."""
    if not isinstance(entry, dict):
        return f"Flow {number}", ["Each flow must be a JSON object."], {}, []
    name = entry.get("name")
    label = name if isinstance(name, str) and name.strip() else f"Flow {number}"
    problems: list[str] = []
    unknown = sorted(set(entry) - IMPORT_KEYS)
    if unknown:
        problems.append(f"Unknown keys: {', '.join(unknown)}.")
    if not isinstance(name, str) or not name.strip():
        problems.append("A flow needs a name.")
    kind = entry.get("kind", FlowKind.HELPER)
    if kind not in FlowKind.values:
        problems.append(f"Unknown kind {kind!r}: one of {', '.join(FlowKind.values)}.")
    for key in _TEXT_FIELDS:
        if not isinstance(entry.get(key, ""), str):
            problems.append(f"'{key}' must be text.")
    for key in _SWITCHES:
        if not isinstance(entry.get(key, True), bool):
            problems.append(f"'{key}' must be true or false.")
    team_names = entry.get("allowed_teams", [])
    found: list[Team] = []
    if not isinstance(team_names, list) or not all(isinstance(n, str) for n in team_names):
        problems.append("'allowed_teams' must be a list of team names.")
    else:
        for team_name in team_names:
            team = teams.get(team_name.casefold())
            if team is None:
                problems.append(f"Unknown team '{team_name}'.")
            else:
                found.append(team)
    definition = entry.get("definition")
    if kind in FlowKind.values:
        try:
            validate_definition(definition, kind=kind)
        except ValidationError as error:
            problems.extend(f"Definition: {message}" for message in error_messages(error))
    values = {
        "name": name,
        "kind": kind,
        "definition": definition,
        **{key: entry.get(key, "") for key in _TEXT_FIELDS},
        **{key: entry.get(key, True) for key in _SWITCHES},
    }
    return label, problems, values, found


def _import_one(values: dict[str, Any], teams: list[Team], *, actor, report: ImportReport) -> None:
    name, definition = values["name"], values["definition"]
    fields = {key: values[key] for key in EXPORT_FIELDS if key != "name"}
    existing = Flow.objects.select_related("current_version").filter(name=name).first()
    if existing is None:
        flow_create_with_teams(
            actor=actor, name=name, definition=definition, allowed_teams=teams, **fields
        )
        report.created.append(name)
        return
    before_version = existing.current_version_id
    before = {key: getattr(existing, key) for key in fields}
    before_teams = set(existing.allowed_teams.values_list("pk", flat=True))
    changes = {key: value for key, value in fields.items() if before[key] != value}
    new_teams = teams if {team.pk for team in teams} != before_teams else None
    saved = flow_apply(
        flow=existing,
        actor=actor,
        changes=changes,
        definition=definition,
        allowed_teams=new_teams,
        note="imported",
    )
    if saved.current_version_id != before_version or changes or new_teams is not None:
        report.updated.append(name)
    else:
        report.unchanged.append(name)
