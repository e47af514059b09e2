"""Factories for test data. They build rows directly (fast); tests of services call services."""

import factory
from django.contrib.auth import get_user_model

from apps.directory.models import Application, Group, UserStatus


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    status = UserStatus.ACTIVE
    password = factory.django.Password("pass-word-123")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Bypass the manager's create_user (which goes through the service and logs an event).
        user = model_class(*args, **kwargs)
        user.save()
        return user


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"Group {n}")


class ApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Application

    name = factory.Sequence(lambda n: f"Application {n}")


# --- Teams and catalog (models named by label, so this block needs no imports of its own) ---


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "teams.Team"

    name = factory.Sequence(lambda n: f"Team {n}")


class TeamMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "teams.TeamMembership"

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)


class ConfigListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "catalog.ConfigList"

    name = factory.Sequence(lambda n: f"List {n}")
    key = factory.Sequence(lambda n: f"list-{n}")


class ConfigListItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "catalog.ConfigListItem"

    config_list = factory.SubFactory(ConfigListFactory)
    value = factory.Sequence(lambda n: f"value-{n}")
    position = factory.Sequence(lambda n: n + 1)


# --- Access requests: request types and their steps (models named by label, as above) -------


def _next_position(request_type) -> int:
    """One past the last step of `request_type`, so steps come in the order they are made."""
    last = request_type.steps.order_by("-position").values_list("position", flat=True).first()
    return (last or 0) + 1


class RequestTypeFactory(factory.django.DjangoModelFactory):
    """An active request type, open to everyone, owned by a new team; steps come separately."""

    class Meta:
        model = "access_requests.RequestType"

    name = factory.Sequence(lambda n: f"Request type {n}")
    owning_team = factory.SubFactory(TeamFactory)
    status = "active"


class StepFactory(factory.django.DjangoModelFactory):
    """A step placed after the request type's existing steps."""

    class Meta:
        model = "access_requests.Step"

    request_type = factory.SubFactory(RequestTypeFactory)
    position = factory.LazyAttribute(lambda o: _next_position(o.request_type))


class QuestionStepFactory(StepFactory):
    """A required text question (set question_type, options, config_list... as needed)."""

    kind = "question"
    key = factory.Sequence(lambda n: f"question_{n}")
    label = factory.LazyAttribute(lambda o: f"{o.key.replace('_', ' ').capitalize()}?")
    question_type = "text"


class ApprovalStepFactory(StepFactory):
    """An approval by the requester's manager (set approver_kind and its target as needed)."""

    kind = "approval"
    approver_kind = "manager"


class GrantStepFactory(StepFactory):
    """Grant the request type's group or application (optionally for duration_days)."""

    kind = "action"
    action_kind = "grant_resource"


class DelegatedFlowStepFactory(StepFactory):
    """Run a delegated flow (set flow and flow_inputs)."""

    kind = "action"
    action_kind = "run_delegated_flow"
    flow_inputs = factory.LazyFunction(dict)


class TaskStepFactory(StepFactory):
    """A task for the request's assignee."""

    kind = "task"
    title = factory.Sequence(lambda n: f"Task {n}")


def free_type_name(name: str) -> str:
    """`name`, or `name (2)`, `(3)`...: request type names are unique whatever the case."""
    from apps.access_requests.models import RequestType

    candidate, number = name, 1
    while RequestType.objects.filter(name__iexact=candidate).exists():
        number += 1
        candidate = f"{name} ({number})"
    return candidate


def make_connection(name: str = "crm", *, kind: str = "bearer", secret: str = "s3cret", **fields):
    """A stored connection, through the service (its secret must be encrypted)."""
    from apps.flows import services as flow_services

    return flow_services.connection_create(
        actor=None, name=name, kind=kind, secret=secret, **fields
    )
