"""Create the demo organisation. Safe to run again: what exists is left as it is."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.catalog import services as catalog
from apps.catalog.models import ConfigList
from apps.directory import services as directory
from apps.directory.models import Application, Group, ProfileAttribute, User
from apps.teams import services as teams
from apps.teams.models import Team

ADMIN_PASSWORD = "gatehouse-admin"
DEMO_PASSWORD = "gatehouse-demo"

# (username, first, last, title, department, manager username)
NAMED_PEOPLE = [
    ("grace", "Grace", "Hopper", "Chief Executive Officer", "Executive", None),
    ("bob", "Bob", "Martin", "Engineering Manager", "Engineering", "grace"),
    ("alice", "Alice", "Durand", "Software Engineer", "Engineering", "bob"),
    ("carol", "Carol", "Nguyen", "Facilities Coordinator", "Facilities", "grace"),
    ("dave", "Dave", "Okafor", "Facilities Technician", "Facilities", "carol"),
]
DEPARTMENTS = [
    ("Engineering", "bob"),
    ("Sales", "sofia"),
    ("Finance", "farid"),
    ("Security", "sam"),
    ("People", "petra"),
]
DEPARTMENT_HEADS = [
    ("sofia", "Sofia", "Rossi", "Head of Sales", "Sales", "grace"),
    ("farid", "Farid", "Haddad", "Head of Finance", "Finance", "grace"),
    ("sam", "Sam", "Kowalski", "Chief Information Security Officer", "Security", "grace"),
    ("petra", "Petra", "Lindqvist", "Head of People", "People", "grace"),
]
FIRST_NAMES = [
    "Ada",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Radia",
    "Tim",
    "Frances",
    "Guido",
    "Hedy",
    "John",
    "Katherine",
    "Donald",
    "Shafi",
    "Leslie",
    "Anita",
    "Niklaus",
    "Joan",
    "Edsger",
]
LAST_NAMES = [
    "Lovelace",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Perlman",
    "Berners-Lee",
    "Allen",
    "van Rossum",
    "Lamarr",
    "McCarthy",
    "Johnson",
    "Knuth",
    "Goldwasser",
    "Lamport",
    "Borg",
    "Wirth",
    "Clarke",
    "Dijkstra",
]
EMPLOYEE_COUNT = 41  # with the nine named people: fifty in all

GROUPS = [
    ("Everyone", "All employees."),
    ("Engineering", "Engineers and their managers."),
    ("VPN Users", "May connect to the corporate VPN."),
    ("Finance Readers", "Read access to finance reports."),
    ("Data Center Access", "Badge access to the data center."),
]
APPLICATIONS = [
    ("Salesforce CRM", "Customer relationship management."),
    ("GitHub", "Source code hosting."),
    ("Corporate VPN", "Remote network access."),
]
BUILDINGS = [
    ("hq-paris", "HQ Paris"),
    ("lyon-office", "Lyon Office"),
    ("data-center", "Data Center"),
]


class Command(BaseCommand):
    help = "Create the demo organisation (idempotent). Passwords are for the demo only."

    @transaction.atomic
    def handle(self, *args, **options):
        admin = self._person(
            "admin",
            "Ada",
            "Admin",
            "Directory Administrator",
            "IT",
            None,
            password=ADMIN_PASSWORD,
            is_staff=True,
            is_superuser=True,
        )
        for row in NAMED_PEOPLE + DEPARTMENT_HEADS:
            self._person(*row, actor=admin)
        for index in range(EMPLOYEE_COUNT):
            department, head = DEPARTMENTS[index % len(DEPARTMENTS)]
            first = FIRST_NAMES[index % len(FIRST_NAMES)]
            last = LAST_NAMES[(index * 7) % len(LAST_NAMES)]
            username = f"{first}.{last}".lower().replace(" ", "").replace("-", "") + f"{index:02d}"
            self._person(
                username, first, last, f"{department} Specialist", department, head, actor=admin
            )

        if not ProfileAttribute.objects.filter(name="isMemberOfGroup").exists():
            directory.profile_attribute_create(
                actor=admin,
                name="isMemberOfGroup",
                label="Is member of group",
                type="boolean",
                description="Set by the 'mark group members' flow when someone joins a group.",
            )
        if not ProfileAttribute.objects.filter(name="costCenter").exists():
            directory.profile_attribute_create(
                actor=admin, name="costCenter", label="Cost center", type="text"
            )

        groups = {name: self._group(name, description, admin) for name, description in GROUPS}
        for name, description in APPLICATIONS:
            self._application(name, description, admin)
        for user in User.objects.exclude(username="admin"):
            directory.group_add_member(group=groups["Everyone"], user=user, actor=admin)
        for user in User.objects.filter(department="Engineering"):
            directory.group_add_member(group=groups["Engineering"], user=user, actor=admin)

        badge_team = self._team(
            "Badge Access", "Issues and changes building badges.", admin, members=["carol", "dave"]
        )
        self._team("IT Service Desk", "Handles access to applications.", admin, members=["sam"])
        buildings = ConfigList.objects.filter(key="buildings").first()
        if buildings is None:
            buildings = catalog.config_list_create(
                actor=admin,
                name="Buildings",
                key="buildings",
                description="Company sites a badge can open.",
                teams=[badge_team],
            )
            for value, label in BUILDINGS:
                catalog.config_list_add_item(
                    config_list=buildings, actor=admin, value=value, label=label
                )
        summary = (
            f"Demo organisation ready: {User.objects.count()} people, "
            f"{Group.objects.count()} groups, {Application.objects.count()} applications, "
            f"{Team.objects.count()} teams. Sign in as admin / {ADMIN_PASSWORD} "
            f"(or alice, bob, carol, dave / {DEMO_PASSWORD})."
        )
        self.stdout.write(self.style.SUCCESS(summary))

    def _person(
        self,
        username,
        first,
        last,
        title,
        department,
        manager_username,
        *,
        actor=None,
        password=DEMO_PASSWORD,
        **extra,
    ):
        existing = User.objects.filter(username=username).first()
        if existing is not None:
            return existing
        manager = User.objects.get(username=manager_username) if manager_username else None
        return directory.user_create(
            actor=actor,
            username=username,
            email=f"{username}@gatehouse.example",
            password=password,
            first_name=first,
            last_name=last,
            title=title,
            department=department,
            manager=manager,
            **extra,
        )

    def _group(self, name, description, admin):
        group = Group.objects.filter(name=name).first()
        return group or directory.group_create(actor=admin, name=name, description=description)

    def _application(self, name, description, admin):
        application = Application.objects.filter(name=name).first()
        return application or directory.application_create(
            actor=admin, name=name, description=description
        )

    def _team(self, name, description, admin, *, members):
        team = Team.objects.filter(name=name).first()
        if team is None:
            team = teams.team_create(actor=admin, name=name, description=description)
        for username in members:
            user = User.objects.get(username=username)
            if not team.members.filter(pk=user.pk).exists():
                teams.team_add_member(team=team, user=user, actor=admin)
        return team
