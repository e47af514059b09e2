"""Create the demo organisation. Safe to run again: what exists is left as it is."""

from __future__ import annotations

import functools

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.access_requests import services as requests
from apps.access_requests.models import (
    AccessRequest,
    ActionKind,
    ApproverKind,
    QuestionType,
    RequestType,
    RequestTypeStatus,
    Step,
    StepKind,
)
from apps.catalog import services as catalog
from apps.catalog.models import ConfigList
from apps.directory import services as directory
from apps.directory.models import Application, Group, ProfileAttribute, User
from apps.flows import services as flows
from apps.flows.models import Flow, FlowKind
from apps.flows.scenarios import load_scenarios
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

# The delegated flow the badge request calls once the manager approved: it reads the requester
# from the directory and briefs the assignee by e-mail. One-way: the request does not wait.
BADGE_FLOW = "Badge access"
BADGE_FLOW_DEFINITION = {
    "inputs": [
        {"name": "requesterEmail", "type": "text", "required": True},
        {"name": "buildingRequested", "type": "text", "required": True},
        {"name": "businessJustification", "type": "text", "required": True},
        {"name": "assigneeEmail", "type": "text", "required": True},
        {"name": "endDate", "type": "datetime", "required": True},
        {"name": "requestUrl", "type": "text", "required": True},
    ],
    "cards": [
        {
            "id": "requester",
            "card": "directory.read_user",
            "inputs": {"email": "{{ inputs.requesterEmail }}"},
        },
        {
            "id": "message",
            "card": "text.compose",
            "inputs": {
                "template": (
                    "Hello,\n\n"
                    "{{ requester.user.first_name }} {{ requester.user.last_name }} "
                    "({{ requester.user.title }}, {{ requester.user.department }}) "
                    "needs badge access to {{ inputs.buildingRequested }} "
                    "until {{ (inputs.endDate | string)[:10] }}.\n\n"
                    "Business justification:\n{{ inputs.businessJustification }}\n\n"
                    "Their manager approved. Program the badge, then complete the task in "
                    "Gatehouse.\n\n"
                    "Open the request in Gatehouse:\n{{ inputs.requestUrl }}\n"
                )
            },
        },
        {
            "id": "mail",
            "card": "email.send",
            "inputs": {
                "to": "{{ inputs.assigneeEmail }}",
                "subject": "Badge access for {{ requester.user.first_name }} "
                "{{ requester.user.last_name }}: {{ inputs.buildingRequested }}",
                "text": "{{ message.text }}",
            },
        },
    ],
}

# A synchronous API endpoint: POST /api/v1/hooks/hello/ {"name": "Ada"} -> {"greeting": ...}.
# Its cards are pure, so it runs in the web process (bench/hook_flow.py loads it). Its client
# token is made in the admin (API endpoints -> rotate the client token).
HELLO_FLOW = "Hello"
HELLO_FLOW_DEFINITION = {
    "trigger": {
        "type": "api",
        "slug": "hello",
        "synchronous": True,
        "timeout_seconds": 10,
        "rate_limit_per_minute": 120_000,
    },
    "inputs": [{"name": "name", "type": "text", "required": False}],
    "cards": [
        {
            "id": "greeting",
            "card": "text.compose",
            "inputs": {"template": "Hello, {{ inputs.name or 'world' }}!"},
        },
        {
            "id": "reply",
            "card": "control.return",
            "inputs": {"value": {"greeting": "{{ greeting.text }}"}},
        },
    ],
}


@functools.cache
def _hashed(password: str) -> str:
    """Hash each demo password once: fifty people, one slow hash instead of fifty."""
    return make_password(password)


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
        self._flows(admin, badge_team)
        self._request_types(admin, badge_team, buildings)
        summary = (
            f"Demo organisation ready: {User.objects.count()} people, "
            f"{Group.objects.count()} groups, {Application.objects.count()} applications, "
            f"{Team.objects.count()} teams, {RequestType.objects.count()} request types. "
            f"Sign in as admin / {ADMIN_PASSWORD} "
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
            password_hash=_hashed(password),
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

    def _flows(self, admin, badge_team):
        """The badge team's delegated flow, `hello` and the scenario flows."""
        if not Flow.objects.filter(name=BADGE_FLOW).exists():
            flow = flows.flow_create(
                actor=admin,
                name=BADGE_FLOW,
                kind=FlowKind.DELEGATED,
                definition=BADGE_FLOW_DEFINITION,
                folder="Demo",
                description="Run by the badge request once approved: reads the requester "
                "from the directory and e-mails the assignee what to program.",
            )
            flows.flow_update(flow=flow, actor=admin, allowed_teams=[badge_team])
        if not Flow.objects.filter(name=HELLO_FLOW).exists():
            flows.flow_create(
                actor=admin,
                name=HELLO_FLOW,
                kind=FlowKind.API,
                definition=HELLO_FLOW_DEFINITION,
                folder="Demo",
                description='POST /api/v1/hooks/hello/ {"name": "Ada"} answers '
                '{"greeting": "Hello, Ada!"}. Rotate its client token under API endpoints.',
            )
        # The seed scenarios (apps/flows/scenarios), enabled where they call no outside
        # system: adding someone to a group sets their isMemberOfGroup by itself.
        # A demo seeded before the scenarios has "Mark group members" as a helper run by
        # hand: it becomes the event flow (with the other scenarios' shipped versions).
        legacy = Flow.objects.filter(name="Mark group members", kind=FlowKind.HELPER).exists()
        report = load_scenarios(actor=admin, update=legacy)
        if not report.ok:
            raise CommandError(f"The scenario flows could not be loaded: {report.errors}")

    def _request_types(self, admin, badge_team, buildings):
        """The badge-access journey, a time-bound group request and an application request."""
        service_desk = Team.objects.get(name="IT Service Desk")
        sofia = User.objects.get(username="sofia")
        crm = Application.objects.get(name="Salesforce CRM")
        if not crm.owners.exists():
            directory.application_update(application=crm, actor=admin, owners=[sofia])
        self._request_type(
            admin,
            name="Badge access to a building",
            description="Ask for your badge to open a building. Your manager approves, then the "
            "Badge Access team is briefed by e-mail and makes the change.",
            owning_team=badge_team,
            steps=[
                {
                    "kind": StepKind.QUESTION,
                    "key": "business_justification",
                    "label": "Business justification",
                    "question_type": QuestionType.LONG_TEXT,
                },
                {
                    "kind": StepKind.QUESTION,
                    "key": "building",
                    "label": "Building",
                    "question_type": QuestionType.LIST_CHOICE,
                    "config_list": buildings,
                },
                {
                    "kind": StepKind.QUESTION,
                    "key": "data_center_escort",
                    "label": "Do you need an escort in the data center?",
                    "question_type": QuestionType.BOOLEAN,
                    "required": False,
                    "condition_key": "building",
                    "condition_operator": "equals",
                    "condition_value": "data-center",
                },
                {
                    "kind": StepKind.QUESTION,
                    "key": "end_date",
                    "label": "Access needed until",
                    "question_type": QuestionType.DATE,
                    "future_only": True,
                },
                {
                    "kind": StepKind.APPROVAL,
                    "approver_kind": ApproverKind.MANAGER,
                    "timeout_hours": 48,
                    "on_timeout": "escalate",
                },
                {
                    "kind": StepKind.ACTION,
                    "action_kind": ActionKind.RUN_DELEGATED_FLOW,
                    "flow": Flow.objects.get(name=BADGE_FLOW),
                    "flow_inputs": {
                        "requesterEmail": {"source": "attribute", "value": "requester_email"},
                        "buildingRequested": {"source": "answer_label", "value": "building"},
                        "businessJustification": {
                            "source": "answer",
                            "value": "business_justification",
                        },
                        "assigneeEmail": {"source": "attribute", "value": "assignee_email"},
                        "endDate": {"source": "answer", "value": "end_date"},
                        "requestUrl": {"source": "attribute", "value": "request_url"},
                    },
                },
                {
                    "kind": StepKind.TASK,
                    "title": "Perform the badge change, then close",
                    "instructions": "Program the badge for the building requested, then complete "
                    "this task to close the request.",
                },
            ],
        )
        vpn = Group.objects.get(name="VPN Users")
        self._request_type(
            admin,
            name="Add me to a group: VPN Users",
            description="Temporary membership of VPN Users, removed automatically at the end "
            "date you choose.",
            owning_team=service_desk,
            resource_group=vpn,
            steps=[
                {
                    "kind": StepKind.QUESTION,
                    "key": "reason",
                    "label": "Why do you need it?",
                    "question_type": QuestionType.TEXT,
                },
                {
                    "kind": StepKind.QUESTION,
                    "key": "until",
                    "label": "Until",
                    "question_type": QuestionType.DATE,
                },
                {"kind": StepKind.APPROVAL, "approver_kind": ApproverKind.MANAGER},
                {
                    "kind": StepKind.ACTION,
                    "action_kind": ActionKind.GRANT_RESOURCE,
                    "end_date_key": "until",
                },
            ],
        )
        self._request_type(
            admin,
            name="Salesforce CRM access",
            description="An account on the CRM, approved by your manager and the CRM owner.",
            owning_team=service_desk,
            resource_application=crm,
            steps=[
                {
                    "kind": StepKind.QUESTION,
                    "key": "role",
                    "label": "Role needed",
                    "question_type": QuestionType.OPTIONS,
                    "options": "read|Read only\nedit|Edit records\nadmin|Administrator",
                },
                {"kind": StepKind.APPROVAL, "approver_kind": ApproverKind.MANAGER},
                {"kind": StepKind.APPROVAL, "approver_kind": ApproverKind.RESOURCE_OWNER},
                {
                    "kind": StepKind.ACTION,
                    "action_kind": ActionKind.GRANT_RESOURCE,
                    "duration_days": 90,
                },
            ],
        )
        badge = RequestType.objects.get(name="Badge access to a building")
        alice = User.objects.get(username="alice")
        if not AccessRequest.objects.filter(requester=alice, request_type=badge).exists():
            requests.request_submit(
                request_type=badge,
                requester=alice,
                answers={
                    "business_justification": "I join the Lyon team for a quarter.",
                    "building": "lyon-office",
                    "end_date": "2099-12-31",
                },
            )

    def _request_type(self, admin, *, name, steps, **fields):
        if RequestType.objects.filter(name=name).exists():
            return
        request_type = RequestType.objects.create(
            name=name, status=RequestTypeStatus.ACTIVE, **fields
        )
        for position, step in enumerate(steps, start=1):
            Step.objects.create(request_type=request_type, position=position * 10, **step)
        requests.request_type_record_change(request_type=request_type, actor=admin, created=True)
