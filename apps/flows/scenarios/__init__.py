"""The seed scenarios: flows shipped as export files (`*.json` here, the format of
`apps.flows.transfer`), loaded by `manage.py load_scenarios`, the flows admin's "Load the
scenario flows" button and `seed_demo`.

Loading creates what the flows need (custom profile attributes, the temporary-memberships
table), then imports the flows that do not exist yet; a flow of the same name is kept as it is,
so edits made since (the endpoints in "Scenario settings", a trigger's list of groups) survive
a second load, unless `update=True` saves the shipped version as a new version. Connections are
never shipped: each flow names the connection it uses (vault, office365, google_workspace,
servicenow, security_chat), to be created in the admin with its secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import transaction

from apps.directory import services as directory
from apps.directory.models import ProfileAttribute
from apps.flows import tables, transfer
from apps.flows.models import Flow

SCENARIO_DIR = Path(__file__).resolve().parent
SETTINGS_FLOW = "Scenario settings"
TEMPORARY_MEMBERSHIPS_TABLE = "Temporary memberships"

# (name, label, type, description) of the custom profile attributes the scenarios read or write.
PROFILE_ATTRIBUTES = (
    (
        "isMemberOfGroup",
        "Is member of group",
        "boolean",
        "Set by the 'Mark group members' flow when someone joins a group.",
    ),
    (
        "mfaEnrolled",
        "MFA enrolled",
        "boolean",
        "Whether the person enrolled a second factor: written by your MFA system or its sync "
        "(the built-in directory holds no factors); read by the MFA scenario.",
    ),
    (
        "mfaReminderSentAt",
        "MFA reminder sent at",
        "datetime",
        "When the MFA scenario reminded the person to enrol a factor.",
    ),
    (
        "mfaResetAt",
        "MFA reset at",
        "datetime",
        "When the MFA scenario removed the password of a person who never enrolled a factor.",
    ),
)
TABLE_COLUMNS = [
    {"name": "username", "type": "text"},
    {"name": "group", "type": "text"},
    {"name": "ends_at", "type": "datetime"},
]


def scenario_files() -> list[Path]:
    return sorted(SCENARIO_DIR.glob("*.json"))


def scenario_entries() -> list[dict[str, Any]]:
    """Every shipped flow, as export entries, in file order (settings and helpers first)."""
    entries: list[dict[str, Any]] = []
    for path in scenario_files():
        entries.extend(transfer.parse_import(path.read_text(encoding="utf-8")))
    return entries


def missing_profile_attributes() -> list[str]:
    """The custom profile attributes the scenarios need that are not defined yet."""
    existing = set(ProfileAttribute.objects.values_list("name", flat=True))
    return [name for name, *_ in PROFILE_ATTRIBUTES if name not in existing]


def _ensure_prerequisites(actor) -> None:
    missing = set(missing_profile_attributes())
    for name, label, attribute_type, description in PROFILE_ATTRIBUTES:
        if name in missing:
            directory.profile_attribute_create(
                actor=actor, name=name, label=label, type=attribute_type, description=description
            )
    tables.table_ensure(
        name=TEMPORARY_MEMBERSHIPS_TABLE,
        description="Memberships that end: filled by 'Temporary memberships: record', "
        "emptied by 'Temporary memberships: remove expired'.",
        columns=TABLE_COLUMNS,
    )


@transaction.atomic
def load_scenarios(*, actor, update: bool = False, disabled: bool = False) -> transfer.ImportReport:
    """Import the shipped flows (all or nothing), enabled as the files say (those that need no
    outside system) or, with `disabled`, all switched off but the settings helper."""
    _ensure_prerequisites(actor)
    existing = set(Flow.objects.values_list("name", flat=True))
    entries, kept = [], []
    for entry in scenario_entries():
        if entry["name"] in existing and not update:
            kept.append(entry["name"])
            continue
        if disabled and entry["name"] != SETTINGS_FLOW:
            entry = {**entry, "enabled": False}
        entries.append(entry)
    report = transfer.import_flows(entries, actor=actor)
    if not report.ok:
        transaction.set_rollback(True)
        return report
    report.unchanged.extend(kept)
    return report
