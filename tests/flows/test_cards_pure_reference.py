"""What the reference page shows for the pure card families (text, numbers, dates, lists,
objects): a category, a one-paragraph description, typed outputs that a reference can reach."""

import pytest

from apps.flows import registry

FAMILIES = {
    "text": "Text",
    "number": "Number and boolean",
    "boolean": "Number and boolean",
    "date": "Date and time",
    "list": "List",
    "object": "Object and JSON",
    "json": "Object and JSON",
}
PURE_CARDS = sorted(key for key in registry.REGISTRY if key.split(".")[0] in FAMILIES)
# `{{ card.items }}` is dict.items in Jinja (attributes come before keys): never an output name.
DICT_ATTRIBUTES = set(dir(dict))


def test_every_family_is_registered():
    assert {key.split(".")[0] for key in PURE_CARDS} == set(FAMILIES)
    assert len(PURE_CARDS) >= 36


@pytest.mark.parametrize("key", PURE_CARDS)
def test_card_has_its_category_a_paragraph_and_reachable_typed_outputs(key):
    card_type = registry.get(key)
    assert card_type.category == FAMILIES[key.split(".")[0]]
    assert card_type.description and "\n\n" not in card_type.description
    assert card_type.outputs and not card_type.open_outputs
    for field in (*card_type.inputs, *card_type.outputs):
        assert field.name.isidentifier()
    assert not {field.name for field in card_type.outputs} & DICT_ATTRIBUTES
