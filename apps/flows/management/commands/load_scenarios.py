"""Load the seed scenario flows (apps/flows/scenarios/*.json). Safe to run again."""

from django.core.management.base import BaseCommand, CommandError

from apps.flows.scenarios import load_scenarios


class Command(BaseCommand):
    help = (
        "Import the scenario flows shipped with Gatehouse (folder 'Scenarios'). Flows that "
        "exist already are kept as they are unless --update; the connections they name are "
        "yours to create."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--update",
            action="store_true",
            help="save the shipped definition as a new version of flows that exist already",
        )
        parser.add_argument(
            "--disabled",
            action="store_true",
            help="create every flow switched off (the files enable those that call no outside "
            "system)",
        )

    def handle(self, *args, update=False, disabled=False, **options):
        report = load_scenarios(actor=None, update=update, disabled=disabled)
        if not report.ok:
            problems = "; ".join(
                f"{name}: {' '.join(messages)}" for name, messages in report.errors.items()
            )
            raise CommandError(f"Nothing was loaded: {problems}")
        self.stdout.write(
            f"Scenario flows: {len(report.created)} created, {len(report.updated)} updated, "
            f"{len(report.unchanged)} kept as they were."
        )
