"""Named reads of the catalog."""

import pytest

from apps.catalog.selectors import active_items, config_lists_for_team
from tests.factories import ConfigListFactory, ConfigListItemFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_config_lists_for_team_returns_only_lists_the_team_may_use(django_assert_num_queries):
    team, other_team = TeamFactory(), TeamFactory()
    shared = ConfigListFactory(name="Buildings")
    shared.teams.set([team, other_team])
    other = ConfigListFactory(name="Cost centres")
    other.teams.set([other_team])
    ConfigListFactory(name="Admins only")  # no teams: no team may use it

    with django_assert_num_queries(1):
        assert list(config_lists_for_team(team)) == [shared]


def test_active_items_skips_inactive_and_keeps_the_order(django_assert_num_queries):
    config_list = ConfigListFactory()
    last = ConfigListItemFactory(config_list=config_list, position=3)
    ConfigListItemFactory(config_list=config_list, position=2, active=False)
    first = ConfigListItemFactory(config_list=config_list, position=1)
    ConfigListItemFactory()  # another list

    with django_assert_num_queries(1):
        assert list(active_items(config_list)) == [first, last]
