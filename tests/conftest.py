"""Fixtures shared by every test folder."""

import pytest

from tests.factories import UserFactory


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def user(db):
    return UserFactory()


from tests.mail import smtp_server  # noqa: E402,F401  (fixture)
from tests.queue import queue_cluster, redis_queue_cluster  # noqa: E402,F401  (fixtures)
