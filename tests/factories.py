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
