"""The scenario flows shipped as export files: loaded by a command, again without change."""

import pytest
from django.core.management import call_command

from apps.directory.models import ProfileAttribute
from apps.flows.models import Flow, FlowTable
from apps.flows.scenarios import scenario_entries

pytestmark = pytest.mark.django_db

SHIPPED = {entry["name"] for entry in scenario_entries()}


def test_load_scenarios_imports_every_shipped_flow_and_what_they_need(capsys):
    call_command("load_scenarios")

    assert set(Flow.objects.values_list("name", flat=True)) == SHIPPED
    assert len(SHIPPED) == 12
    enabled = set(Flow.objects.filter(enabled=True).values_list("name", flat=True))
    assert "Mark group members" in enabled
    assert "Onboarding: temporary password to the manager's vault" not in enabled
    assert {"isMemberOfGroup", "mfaEnrolled", "mfaReminderSentAt", "mfaResetAt"} <= set(
        ProfileAttribute.objects.values_list("name", flat=True)
    )
    assert FlowTable.objects.filter(name="Temporary memberships").exists()
    assert "12 created" in capsys.readouterr().out


def test_loading_again_keeps_every_flow_and_its_edits(capsys):
    call_command("load_scenarios")
    mark = Flow.objects.get(name="Mark group members")
    version = mark.current_version_id

    call_command("load_scenarios")

    assert Flow.objects.count() == len(SHIPPED)
    assert Flow.objects.get(pk=mark.pk).current_version_id == version
    assert "0 created, 0 updated, 12 kept" in capsys.readouterr().out


def test_load_scenarios_disabled_switches_every_flow_off_but_the_settings():
    call_command("load_scenarios", disabled=True)
    assert list(Flow.objects.filter(enabled=True).values_list("name", flat=True)) == [
        "Scenario settings"
    ]
